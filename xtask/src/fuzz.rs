//! Schemathesis over the served OpenAPI spec: `cargo xtask test` runs a short
//! pass (the `fuzz` suite), `cargo xtask fuzz --examples N` a longer one.
//!
//! The pass builds `target/debug/keyward`, starts it on a free 127.0.0.1 port
//! over a fresh SQLite file (first start: it bootstraps an organization and
//! prints the admin key on stdout), and runs schemathesis (pinned, in the venv
//! `target/fuzz-venv`) against `/openapi.json` with that key. It fails on any
//! 5xx, any response the spec does not describe (status, body schema,
//! content type, headers) and any schema-valid request the server refuses with
//! a 4xx other than 401/403/404/409/429 (`positive_data_acceptance`).
//!
//! The test server helpers ([`Server`], [`build_server`], [`bootstrap_key`])
//! serve the `ecosystem` suite too.
//!
//! Only loopback is ever a target, and every part is bounded: schemathesis by
//! `--max-examples` and a wall-clock deadline, the server by being killed at
//! the end.

use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

use crate::{
    python::{cargo_program, python_program, target_dir},
    run_command, workspace_root,
};

/// The schemathesis release the pass is pinned to (Python 3.11+).
pub const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// Examples per operation in `cargo xtask test`: the whole step stays within
/// ~3 minutes on 2 cores.
pub const TEST_EXAMPLES: u32 = 25;

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Examples per API operation (`cargo xtask test` uses 25).
    #[arg(long, default_value_t = 300)]
    examples: u32,
    /// Hypothesis seed, to replay a run.
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: &FuzzArgs) -> anyhow::Result<()> {
    // About a second per example and operation at worst, plus setup.
    let deadline = Duration::from_secs(300 + u64::from(args.examples) * 3);
    pass(args.examples, args.seed, deadline)
}

/// The `fuzz` suite of `cargo xtask test`.
pub fn test() -> anyhow::Result<()> {
    pass(TEST_EXAMPLES, None, Duration::from_secs(600))
}

fn pass(examples: u32, seed: Option<u64>, deadline: Duration) -> anyhow::Result<()> {
    let schemathesis = install_schemathesis()?;

    let binary = build_server("fuzz")?;

    let work = target_dir().join("fuzz");
    let _ = fs::remove_dir_all(work.join("run"));
    fs::create_dir_all(work.join("run")).with_context(|| format!("creating {}", work.display()))?;
    let server = Server::start(&binary, &work.join("run"))?;
    eprintln!("fuzz: server on {} (log: {})", server.base_url, server.log.display());

    // The throwaway tenant: a second organization, bootstrapped by the CLI on
    // the same database, whose admin key the self-destructive pass may destroy.
    let throwaway = bootstrap_key(&binary, &server.database, "fuzz throwaway")?;

    let hooks = workspace_root().join("xtask").join("fuzz_hooks.py");
    let started = Instant::now();
    let selfish = format!("^({})$", SELF_DESTRUCTIVE.join("|"));
    let mut failed = Vec::new();
    let passes = [
        (
            "every operation but the self-destructive ones, as the bootstrap admin",
            &server.admin_key,
            "--exclude-operation-id-regex",
            selfish.clone(),
        ),
        (
            "the self-destructive operations (and the lists that feed them ids), as a throwaway tenant's admin",
            &throwaway,
            "--include-operation-id-regex",
            format!("^({}|{})$", SELF_DESTRUCTIVE.join("|"), ID_SOURCES.join("|")),
        ),
    ];
    for (what, key, filter, operations) in passes {
        eprintln!("fuzz: schemathesis over {what}");
        let mut command = Command::new(&schemathesis);
        command
            .arg("run")
            .arg(format!("{}/openapi.json", server.base_url))
            // The key is sent on every request; it is never printed.
            .arg("--header")
            .arg(format!("Authorization: Bearer {key}"))
            .arg(filter)
            .arg(&operations)
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_headers_conformance,response_schema_conformance,positive_data_acceptance,\
                 negative_data_rejection,missing_required_header,unsupported_method,ignored_auth",
                // The stateful phase is off: it chains calls through links the
                // spec does not declare. The other phases already reuse ids
                // seen in responses (which is why the passes are split).
                "--phases",
                "examples,coverage,fuzzing",
                // Two cores: one for schemathesis, one for the server.
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--generation-database",
                "none",
                "--no-color",
            ])
            .arg("--max-examples")
            .arg(examples.to_string())
            .current_dir(&work)
            .env("SCHEMATHESIS_HOOKS", "fuzz_hooks")
            .env("PYTHONPATH", hooks.parent().unwrap_or(workspace_root()))
            .env_remove("SCHEMATHESIS_CONFIG");
        if let Some(seed) = seed {
            command.arg("--seed").arg(seed.to_string());
        }
        eprintln!(
            "$ SCHEMATHESIS_HOOKS=fuzz_hooks schemathesis run {}/openapi.json --header 'Authorization: Bearer …' {filter} '{operations}' --max-examples {examples}{}",
            server.base_url,
            seed.map(|s| format!(" --seed {s}")).unwrap_or_default()
        );
        let mut child = command.spawn().with_context(|| format!("running {}", schemathesis.display()))?;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("fuzz: schemathesis did not finish within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        if !status.success() {
            failed.push(format!("{what} ({status})"));
        }
    }
    eprintln!("fuzz: schemathesis took {:.1}s", started.elapsed().as_secs_f64());
    let log = server.stop();
    if !failed.is_empty() {
        bail!("fuzz: schemathesis found failures in: {}; server log: {}", failed.join("; "), log.display());
    }
    Ok(())
}

/// Operations that, handed the caller's own id (schemathesis reuses ids it
/// saw in earlier responses, e.g. the key list), destroy the credential or
/// the organization the rest of the run depends on: they run in a pass of
/// their own, last, as the admin of a throwaway organization.
const SELF_DESTRUCTIVE: [&str; 6] = [
    "delete_organization",
    "revoke_api_key",
    "revoke_organization_api_key",
    "regenerate_api_key",
    "rotate_api_key",
    // `is_active: false`, a past-due `expires_at` or a tiny `rate_limit` on the caller's own key.
    "update_api_key",
];

/// Where the self-destructive pass finds ids to feed them.
const ID_SOURCES: [&str; 4] = ["list_api_keys", "create_api_key", "list_organizations", "list_organization_api_keys"];

/// Builds `target/debug/keyward` (cargo rebuilds it only when stale) and
/// returns its path; `suite` names the caller in the progress line.
pub(crate) fn build_server(suite: &str) -> anyhow::Result<PathBuf> {
    eprintln!("{suite}: building the server (target/debug/keyward)");
    run_command(Command::new(cargo_program()).args(["build", "-p", "keyward-server"]).current_dir(workspace_root()))?;
    Ok(target_dir().join("debug").join("keyward"))
}

/// `keyward bootstrap --org-name NAME` on `database`: a new organization; returns its admin key.
pub(crate) fn bootstrap_key(binary: &Path, database: &str, name: &str) -> anyhow::Result<String> {
    let out = Command::new(binary)
        .args(["bootstrap", "--org-name", name, "--database-url", database])
        .env("KEYWARD_LOG", "warn")
        .env_remove("KEYWARD_CONFIG")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} bootstrap", binary.display()))?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || key.is_empty() {
        bail!("`keyward bootstrap` failed ({})", out.status);
    }
    Ok(key)
}

/// The venv `target/fuzz-venv` with [`SCHEMATHESIS`] installed (reused).
fn install_schemathesis() -> anyhow::Result<PathBuf> {
    let venv = target_dir().join("fuzz-venv");
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        let python = python_program();
        eprintln!("fuzz: creating the venv {}", venv.display());
        run_command(Command::new(&python).arg("-m").arg("venv").arg(&venv))?;
    }
    let schemathesis = bin.join("schemathesis");
    let wanted = SCHEMATHESIS.rsplit('=').next().unwrap_or_default();
    let installed = Command::new(&schemathesis)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim().ends_with(wanted));
    if !installed {
        eprintln!("fuzz: installing {SCHEMATHESIS} into {}", venv.display());
        run_command(Command::new(bin.join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SCHEMATHESIS,
        ]))?;
    }
    Ok(schemathesis)
}

/// The server binary on a free loopback port over a fresh SQLite file, with
/// its background jobs off (nothing is ever delivered) and no throttle on
/// failed authentications; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base_url: String,
    pub(crate) database: String,
    /// The bootstrap admin key the first start printed.
    pub(crate) admin_key: String,
    pub(crate) log: PathBuf,
}

impl Server {
    /// Starts `binary` with its database and log in `dir`.
    pub(crate) fn start(binary: &Path, dir: &Path) -> anyhow::Result<Server> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.join("server.log");
        let database = format!("sqlite://{}", dir.join("keyward.db").display());
        let mut child = Command::new(binary)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url", &database])
            .env("KEYWARD_LOG", "warn")
            // Generated webhook endpoints and rotation URLs name arbitrary
            // public hosts: with the background jobs off nothing is ever
            // delivered, so no traffic leaves the machine (loopback only).
            .env("KEYWARD_BACKGROUND_JOBS", "false")
            // schemathesis probes every operation without credentials: from
            // one address the per-address throttle would soon answer 429 to
            // everything and hide the operations from the fuzzer. The
            // throttle has its own test (tests/tests/trust.rs).
            .env("KEYWARD_AUTH_FAILURE_LIMIT", "0")
            .env_remove("KEYWARD_CONFIG")
            .env_remove("KEYWARD_NO_BOOTSTRAP")
            .env_remove("KEYWARD_WEBHOOK_ALLOW_PRIVATE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        // The first start on an empty database prints the admin key as its
        // only stdout line, before it listens.
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line.trim().to_string());
        });
        let mut server =
            Server { child, base_url: format!("http://127.0.0.1:{port}"), database, admin_key: String::new(), log };
        server.admin_key = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        if server.admin_key.is_empty() {
            let log = server.stop();
            bail!("the test server printed no admin key (log: {})", log.display());
        }
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !healthy(addr) {
            if Instant::now() > deadline || server.child.try_wait()?.is_some() {
                let log = server.stop();
                bail!("the test server did not become healthy (log: {})", log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// Kills the server; returns the path of its log.
    pub(crate) fn stop(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /healthz` answers 200 (a plain HTTP/1.0 request: no client needed).
fn healthy(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}
