//! `cargo xtask bench`: wrk against `POST /v1/keys/verify` and the server's own
//! `GET /healthz` in one run (`docs/architecture.md#commands`).
//!
//! 1. `cargo build --release -p keyward-server`;
//! 2. a fresh database (SQLite file under `target/bench/`, or a new Postgres
//!    database next to `--postgres-url`), seeded by the release binary's
//!    hidden `bench-seed` command (the API's own key rows, bulk-inserted);
//! 3. the release server on 127.0.0.1, a warm-up pass over every key (its
//!    RSS and cache entry count read afterwards), then wrk at each
//!    `--connections` count against `/healthz` and verify (a Lua script
//!    picking random seeded keys, requests formatted before the clock
//!    starts), alternating for `--rounds` rounds; then the same on a
//!    cold-cache server (`KEYWARD_CACHE_CAPACITY=0`);
//! 4. a table of each scenario's median round — req/s, p50, p99, errors and
//!    verify ÷ healthz — printed and written to `target/bench/`.
//!
//! `--scaling` instead runs the cached scenario at 10 000 and 1 000 000 keys
//! (a fresh database each) and reports the throughput drop and the RSS with
//! every key cached (`bench-scaling-<db>.md`).
//!
//! `--baseline <rev>` compares the current server with the release server
//! of another revision ([`baseline`] builds it once and keeps it): both run
//! side by side on the one seeded database, and [`interleave`] runs their
//! rounds in turn — in each round, each server's `/healthz` then verify, the
//! two servers taking turns going first. Interleaving is what makes the
//! comparison mean anything on a shared 2-core host: `/healthz` alone drifts
//! by ±20 % between runs a minute apart, far more than a refactor's effect,
//! so a baseline measured in one run (or one half of this run) and the
//! current server in another would compare the machine's moods. Runs side
//! by side meet the same drift, each server's "vs /healthz" ratio comes from
//! its own runs of the same round, and "current ÷ baseline" is the median of
//! the rounds' ratios (with their range, the noise to judge a change by).

mod baseline;

use anyhow::{Context, bail, ensure};
use clap::{Args, ValueEnum};
use keyward_server::store;
use std::{
    fmt::Write as _,
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Db {
    Sqlite,
    Postgres,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Keys to seed (all verified at random).
    #[arg(long, default_value_t = 100_000)]
    keys: usize,
    /// Database backend for the server under test.
    #[arg(long, value_enum, default_value_t = Db::Sqlite)]
    db: Db,
    /// Admin URL of a Postgres server for `--db postgres` (a fresh database is created next to it).
    #[arg(long, env = "KEYWARD_TEST_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Rounds of /healthz then verify, alternating, per connection count; the
    /// table shows each scenario's median round. Alternating on the same
    /// server makes the ratio robust to the machine's speed drifting (on a
    /// shared 2-core host /healthz alone moved by ±20 % between runs).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Connection counts to measure at (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec![32, 128])]
    connections: Vec<u32>,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Positive-entry TTL (seconds) of the server under test in the cached runs,
    /// so entries warmed up before the runs are still there during them.
    #[arg(long, default_value_t = 600)]
    cache_ttl_secs: u64,
    /// Skip the cold-cache run.
    #[arg(long)]
    no_cold: bool,
    /// Do not rebuild the release server first.
    #[arg(long)]
    no_build: bool,
    /// Scaling mode: the cached scenario only, at each of `--scaling-keys`
    /// (a fresh database each), with the server's RSS after warming every key.
    #[arg(long)]
    scaling: bool,
    /// Key counts of the scaling mode.
    #[arg(long, value_delimiter = ',', default_values_t = vec![10_000, 1_000_000])]
    scaling_keys: Vec<usize>,
    /// Also run the release server of this git revision (built once into
    /// `target/bench-baseline/`), interleaved with the current one round by
    /// round on the same database, and report current ÷ baseline.
    #[arg(long, value_name = "GIT_REV", conflicts_with = "scaling")]
    baseline: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
}

/// A release server under test: the current build, and with `--baseline`
/// the baseline's (first in `binaries`).
struct Binary {
    /// Its name in the table's binary column.
    label: String,
    /// Its name in the report's heading.
    about: String,
    /// In its server log's name (`server-cached-<tag>.log`) when there are two.
    tag: &'static str,
    path: PathBuf,
}

/// One round's runs on one server: `/healthz`, then verify right after it.
#[derive(Debug, Clone)]
struct Round {
    health: WrkResult,
    verify: WrkResult,
}

#[derive(Debug, Clone)]
struct Row {
    keys: usize,
    scenario: String,
    connections: u32,
    /// Index into the run's binaries.
    binary: usize,
    /// The median round (by req/s), with the errors of every round.
    result: WrkResult,
    /// Every round's run of this scenario, in order.
    runs: Vec<WrkResult>,
    /// Verify rows: each round's req/s ÷ and p99 ÷ those of the same
    /// round's /healthz (the two runs side by side in time); empty for
    /// /healthz rows.
    round_vs_healthz: Vec<(f64, f64)>,
}

impl Row {
    /// req/s ÷ and p99 ÷ those of /healthz: the medians of the rounds' ratios.
    fn vs_healthz(&self) -> Option<(f64, f64)> {
        if self.round_vs_healthz.is_empty() {
            return None;
        }
        let (rps, p99): (Vec<f64>, Vec<f64>) = self.round_vs_healthz.iter().copied().unzip();
        Some((median_of(rps), median_of(p99)))
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    ensure!(args.keys > 0, "--keys must be at least 1");
    let wrk = find_wrk()?;
    let root = crate::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let out_dir = target.join("bench");
    std::fs::create_dir_all(&out_dir)?;
    // Before the current build: the baseline's build writes release/keyward
    // too, and the current build then links it back to the current server.
    let baseline = match &args.baseline {
        Some(rev) => Some(baseline::prepare(root, &target, rev, args.no_build)?),
        None => None,
    };
    if !args.no_build {
        eprintln!("bench: cargo build --release -p keyward-server");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "keyward-server", "--bin", "keyward"])
            .current_dir(root)
            .status()?;
        ensure!(status.success(), "building the release server failed");
    }
    let server_bin = target.join("release/keyward");
    ensure!(server_bin.exists(), "{} is missing (drop --no-build)", server_bin.display());
    let mut binaries = Vec::new();
    if let Some(baseline) = &baseline {
        binaries.push(Binary {
            label: format!("baseline {}", baseline.short),
            about: format!("baseline {} ({})", baseline.short, baseline.sha),
            tag: "baseline",
            path: baseline.bin.clone(),
        });
    }
    binaries.push(Binary {
        label: "current".into(),
        about: format!("current: the working tree at {}", baseline::describe_current(root)),
        tag: "current",
        path: server_bin.clone(),
    });
    write_scripts(&out_dir)?;
    eprintln!("bench: load average {}", load_average());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    if args.scaling {
        let mut runs = Vec::new();
        for &keys in &args.scaling_keys {
            ensure!(keys > 0, "--scaling-keys must be at least 1");
            let (rows, mut warms) = with_seeded_db(&runtime, args, &server_bin, &out_dir, keys, |url, admin_key| {
                measure(args, &wrk, &binaries, url, admin_key, &out_dir, keys, true)
            })?;
            runs.push((keys, rows, warms.remove(0)));
        }
        report_scaling(args, &runs, &out_dir)
    } else {
        // Seeded by the current binary: the baseline's migrations are the same
        // (checked by baseline::prepare), and it may predate bench-seed.
        let (rows, warms) = with_seeded_db(&runtime, args, &server_bin, &out_dir, args.keys, |url, admin_key| {
            measure(args, &wrk, &binaries, url, admin_key, &out_dir, args.keys, false)
        })?;
        if binaries.len() == 1 {
            report(args, &rows, &warms[0], &out_dir)
        } else {
            report_comparison(args, &binaries, &rows, &warms, &out_dir)
        }
    }
}

/// A fresh database with `keys` seeded keys for the duration of `f`.
fn with_seeded_db<T>(
    runtime: &tokio::runtime::Runtime,
    args: &BenchArgs,
    server_bin: &Path,
    out_dir: &Path,
    keys: usize,
    f: impl FnOnce(&str, &str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let db = runtime.block_on(BenchDb::create(args, out_dir))?;
    let result = (|| {
        let started = Instant::now();
        let admin_key = seed(server_bin, &db.url, keys, &out_dir.join("keys.txt"))?;
        eprintln!("bench: seeded {keys} keys in {:.1?}", started.elapsed());
        f(&db.url, &admin_key)
    })();
    runtime.block_on(db.drop_database());
    result
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn wrk_on_path() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("wrk"))
        .find(|p| p.is_file())
}

/// wrk, installed from Debian's packages when missing (as root: `apt-get`;
/// otherwise through `sudo -n` if that needs no password).
fn find_wrk() -> anyhow::Result<PathBuf> {
    if let Some(found) = wrk_on_path() {
        return Ok(found);
    }
    let as_root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let prefix: &[&str] = if as_root { &[] } else { &["sudo", "-n"] };
    eprintln!("bench: `wrk` is not installed; installing it from Debian's packages (apt-get install -y wrk)");
    for step in [&["apt-get", "update", "-qq"][..], &["apt-get", "install", "-y", "-qq", "wrk"][..]] {
        let argv: Vec<&str> = prefix.iter().chain(step).copied().collect();
        let status = std::process::Command::new(argv[0])
            .args(&argv[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            // stdout is the report's.
            .stdout(std::io::stderr())
            .status()
            .with_context(|| format!("running `{}`", argv.join(" ")))?;
        anyhow::ensure!(
            status.success(),
            "`{}` failed; install wrk yourself (`apt-get install -y wrk`) and run again",
            argv.join(" ")
        );
    }
    wrk_on_path().context("`wrk` is still not on PATH after installing it")
}

// ---------------------------------------------------------------- database and seeding

struct BenchDb {
    url: String,
    postgres: Option<(String, String)>,
}

impl BenchDb {
    async fn create(args: &BenchArgs, out_dir: &Path) -> anyhow::Result<BenchDb> {
        match args.db {
            Db::Sqlite => {
                let path = out_dir.join("keyward-bench.db");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                Ok(BenchDb { url: format!("sqlite://{}", path.display()), postgres: None })
            }
            Db::Postgres => {
                sqlx::any::install_default_drivers();
                let name = format!("kw_bench_{}", std::process::id());
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&args.postgres_url)
                    .await
                    .with_context(|| format!("connecting to {}", store::redact_url(&args.postgres_url)))?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut conn).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
                let mut url = url::Url::parse(&args.postgres_url)?;
                url.set_path(&name);
                Ok(BenchDb { url: url.to_string(), postgres: Some((args.postgres_url.clone(), name)) })
            }
        }
    }

    async fn drop_database(&self) {
        let Some((admin, name)) = &self.postgres else { return };
        if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(admin).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await;
        }
    }
}

/// Bootstraps an organization and seeds `n` keys with the release binary's
/// hidden `bench-seed` command (optimised minting and hashing, the API's own
/// key rows, multi-row inserts in large transactions); the plaintexts land in
/// `keys_file` (admin key first). Returns the admin key.
fn seed(bin: &Path, url: &str, n: usize, keys_file: &Path) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .args(["bench-seed", "--keys", &n.to_string(), "--keys-file"])
        .arg(keys_file)
        .env("DATABASE_URL", url)
        .env("KEYWARD_LOG", "warn")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running keyward bench-seed")?;
    ensure!(out.status.success(), "keyward bench-seed failed ({})", out.status);
    let admin = String::from_utf8(out.stdout)?.trim().to_string();
    ensure!(!admin.is_empty(), "keyward bench-seed printed no admin key");
    Ok(admin)
}

// ---------------------------------------------------------------- wrk

/// Verify with a random seeded key per request; `sequential` walks all keys
/// once per thread stripe instead (the warm-up).
const VERIFY_LUA: &str = r#"-- generated by cargo xtask bench
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local keys = {}
local admin, mode, next_index, stride
function init(args)
  local first = true
  for line in io.lines(args[1]) do
    if first then admin = line; first = false else keys[#keys + 1] = line end
  end
  mode = args[2] or "random"
  stride = tonumber(args[3]) or 1
  next_index = (id or 0) + 1
  math.randomseed(os.time() * 1000 + (id or 0))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. admin
  if mode == "random" then
    -- Formatted once, before the clock starts: a request then costs wrk a
    -- table lookup instead of Lua string building (/healthz has no script).
    for i = 1, #keys do keys[i] = wrk.format(nil, "/v1/keys/verify", nil, '{"key":"' .. keys[i] .. '"}') end
  end
end

request = function()
  local k
  if mode == "sequential" then
    k = keys[next_index]
    next_index = next_index + stride
    if next_index > #keys then next_index = ((id or 0) % stride) + 1 end
    return wrk.format(nil, "/v1/keys/verify", nil, '{"key":"' .. k .. '"}')
  end
  return keys[math.random(#keys)]
end
"#;

/// The warm-up: [`VERIFY_LUA`] in `sequential` mode, each thread stopping
/// once every key of its stripe has been answered.
const WARM_LUA_TAIL: &str = r#"
local answered = 0
local stripe_len = nil
response = function(status, headers, body)
  if stripe_len == nil then
    local first = (id or 0) + 1
    stripe_len = 0
    if first <= #keys then stripe_len = math.floor((#keys - first) / stride) + 1 end
  end
  answered = answered + 1
  if answered >= stripe_len then wrk.thread:stop() end
end
"#;

fn write_scripts(out_dir: &Path) -> anyhow::Result<()> {
    std::fs::write(out_dir.join("verify.lua"), VERIFY_LUA)?;
    std::fs::write(out_dir.join("warm.lua"), format!("{VERIFY_LUA}{WARM_LUA_TAIL}"))?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(bin: &Path, url: &str, extra_env: &[(&str, String)], log: &Path) -> anyhow::Result<Server> {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = std::fs::File::create(log)?;
        let mut cmd = Command::new(bin);
        cmd.env("KEYWARD_LISTEN", addr.to_string())
            .env("DATABASE_URL", url)
            .env("KEYWARD_NO_BOOTSTRAP", "true")
            .env("KEYWARD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http(addr, "GET", "/healthz", None, None) {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server exited early ({status}); see its log");
            }
            ensure!(Instant::now() < deadline, "the server did not answer /healthz within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGTERM (graceful: the usage counters are flushed), SIGKILL after 15 s.
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server still running when its `Server` goes away (an error or a panic
/// between start and `stop`) is killed, never left behind.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A minimal HTTP/1.1 exchange (status, body) for readiness and sanity checks.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    let auth = bearer.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no HTTP status line")?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

fn wrk_run(
    wrk: &Path,
    args: &BenchArgs,
    connections: u32,
    secs: u64,
    url: &str,
    script: Option<(&Path, &[&str])>,
) -> anyhow::Result<WrkResult> {
    let mut cmd = Command::new(wrk);
    cmd.arg(format!("-t{}", args.threads.min(connections).max(1)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("5s")
        .arg("--latency");
    if let Some((script, _)) = script {
        cmd.arg("-s").arg(script);
    }
    cmd.arg(url);
    if let Some((_, script_args)) = script {
        cmd.arg("--").args(script_args);
    }
    let out = cmd.output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(out.status.success(), "wrk failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    parse_wrk(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

/// Every round at `connections`, on every server: THE interleaving of the
/// baseline comparison (see the module doc for why). In each round each
/// server runs `/healthz` then verify; with two servers they take turns going
/// first ([`round_order`]), so neither is always the one a drift within a
/// round hits last. Returns each server's rounds, in `servers` order.
#[allow(clippy::too_many_arguments)]
fn interleave(
    wrk: &Path,
    args: &BenchArgs,
    connections: u32,
    binaries: &[Binary],
    servers: &[Server],
    script: &Path,
    keys_arg: &str,
    label: &str,
) -> anyhow::Result<Vec<Vec<Round>>> {
    let rounds = args.rounds.max(1);
    let mut per_server: Vec<Vec<Round>> = servers.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        eprintln!(
            "bench: round {round}/{rounds} at {connections} connections, {} s each: /healthz, then verify ({label}) (load average {})",
            args.duration,
            load_average()
        );
        for i in round_order(round, servers.len()) {
            let server = &servers[i];
            let health = wrk_run(wrk, args, connections, args.duration, &server.url("/healthz"), None)?;
            let verify = wrk_run(
                wrk,
                args,
                connections,
                args.duration,
                &server.url("/"),
                Some((script, &[keys_arg, "random"])),
            )?;
            let (ratio, p99_ratio) = vs_healthz(&health, &verify);
            let who = if servers.len() > 1 { format!("{}: ", binaries[i].label) } else { String::new() };
            eprintln!(
                "bench:   {who}/healthz {:.0} req/s p99 {:.2} ms; verify {:.0} req/s p99 {:.2} ms ({:.0} %, p99 {p99_ratio:.2}×)",
                health.rps,
                health.p99_ms,
                verify.rps,
                verify.p99_ms,
                100.0 * ratio
            );
            per_server[i].push(Round { health, verify });
        }
    }
    Ok(per_server)
}

/// The order the servers run in during round `round` (1-based): as given in
/// odd rounds, reversed in even ones.
fn round_order(round: u32, servers: usize) -> Vec<usize> {
    if round.is_multiple_of(2) { (0..servers).rev().collect() } else { (0..servers).collect() }
}

/// verify's req/s ÷ and p99 ÷ those of the /healthz run beside it.
fn vs_healthz(health: &WrkResult, verify: &WrkResult) -> (f64, f64) {
    (verify.rps / health.rps.max(1.0), verify.p99_ms / health.p99_ms.max(1e-6))
}

/// One binary's /healthz and verify rows of a scenario, from its rounds.
fn scenario_rows(
    keys: usize,
    binary: usize,
    connections: u32,
    [health_scenario, verify_scenario]: [&str; 2],
    rounds: &[Round],
) -> [Row; 2] {
    let health: Vec<WrkResult> = rounds.iter().map(|r| r.health.clone()).collect();
    let verify: Vec<WrkResult> = rounds.iter().map(|r| r.verify.clone()).collect();
    let row = |scenario: &str, runs: Vec<WrkResult>, round_vs_healthz| Row {
        keys,
        scenario: scenario.into(),
        connections,
        binary,
        result: median(runs.clone()),
        runs,
        round_vs_healthz,
    };
    [
        row(health_scenario, health, Vec::new()),
        row(verify_scenario, verify, rounds.iter().map(|r| vs_healthz(&r.health, &r.verify)).collect()),
    ]
}

fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The round with the median req/s, carrying the errors of every round.
fn median(mut runs: Vec<WrkResult>) -> WrkResult {
    let errors = runs.iter().map(|r| r.errors).sum();
    let requests = runs.iter().map(|r| r.requests).sum();
    runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    let mid = runs.swap_remove(runs.len() / 2);
    WrkResult { errors, requests, ..mid }
}

fn parse_duration_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, factor) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60_000.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().ok().map(|n| n * factor)
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut r = WrkResult::default();
    let mut saw_rps = false;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().ok()?;
            saw_rps = true;
        } else if let Some(v) = line.strip_prefix("50%") {
            r.p50_ms = parse_duration_ms(v)?;
        } else if let Some(v) = line.strip_prefix("99%") {
            r.p99_ms = parse_duration_ms(v)?;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.errors += v.trim().parse::<u64>().ok()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            r.errors +=
                v.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
        } else if line.contains("requests in") {
            r.requests = line.split_whitespace().next()?.parse().ok()?;
        }
    }
    saw_rps.then_some(r)
}

fn sanity_check(server: &Server, admin_key: &str, keys_file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(keys_file)?;
    let key = text.lines().nth(1).context("no seeded key")?;
    let (status, body) =
        http(server.addr, "POST", "/v1/keys/verify", Some(admin_key), Some(&format!("{{\"key\":\"{key}\"}}")))?;
    ensure!(status == 200 && body.contains("\"VALID\""), "a seeded key does not verify: {status} {body}");
    Ok(())
}

/// The cached server after its warm-up pass.
#[derive(Debug, Clone, Default)]
struct Warm {
    secs: f64,
    /// VmRSS of the server process, MiB.
    rss_mib: f64,
    /// `keyward_key_cache_entries` from `/metrics`.
    cache_entries: u64,
}

/// VmRSS of `pid` in MiB.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024.0)
}

fn cache_entries(server: &Server) -> anyhow::Result<u64> {
    let (status, body) = http(server.addr, "GET", "/metrics", None, None)?;
    ensure!(status == 200, "/metrics answered {status}");
    body.lines()
        .find_map(|l| l.strip_prefix("keyward_key_cache_entries "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .context("no keyward_key_cache_entries in /metrics")
}

/// The warm-up of a cached server: every key once (each wrk thread walks its
/// own stripe and stops at its end; bounded in time all the same).
fn warm_up(args: &BenchArgs, wrk: &Path, server: &Server, keys: usize, out_dir: &Path) -> anyhow::Result<Warm> {
    let keys_arg = out_dir.join("keys.txt").display().to_string();
    let bound = (keys as u64 / 1000).clamp(30, 900);
    eprintln!("bench: warming up every key (at most {bound} s)");
    let threads = args.threads.max(1).to_string();
    let started = Instant::now();
    // wrk keeps its connections open until -d even after every thread
    // stopped: watch the cache fill up instead and end wrk then.
    let mut child = Command::new(wrk)
        .args([
            format!("-t{}", args.threads.max(1)),
            "-c32".into(),
            format!("-d{bound}s"),
            "--timeout".into(),
            "5s".into(),
        ])
        .arg("-s")
        .arg(out_dir.join("warm.lua"))
        .arg(server.url("/"))
        .args(["--", keys_arg.as_str(), "sequential", threads.as_str()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("running wrk")?;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        if child.try_wait()?.is_some() {
            break;
        }
        if cache_entries(server)? > keys as u64 || started.elapsed() > Duration::from_secs(bound + 10) {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    wrk_run(wrk, args, 32, 2, &server.url("/healthz"), None)?;
    let warm = Warm { secs, rss_mib: rss_mib(server.child.id())?, cache_entries: cache_entries(server)? };
    eprintln!(
        "bench: warmed in {:.1} s: {} cache entries, server RSS {:.0} MiB",
        warm.secs, warm.cache_entries, warm.rss_mib
    );
    Ok(warm)
}

/// One server per binary, all up at once (the idle one waits while the
/// other is measured), each checked to verify a seeded key. A server is
/// killed if a later one fails to start ([`Server`]'s drop).
fn start_servers(
    binaries: &[Binary],
    url: &str,
    env: &[(&str, String)],
    admin_key: &str,
    out_dir: &Path,
    phase: &str,
) -> anyhow::Result<Vec<Server>> {
    let mut servers = Vec::new();
    for binary in binaries {
        let log = if binaries.len() == 1 {
            format!("server-{phase}.log")
        } else {
            format!("server-{phase}-{}.log", binary.tag)
        };
        let server = Server::start(&binary.path, url, env, &out_dir.join(log))
            .with_context(|| format!("starting the {} server", binary.label))?;
        sanity_check(&server, admin_key, &out_dir.join("keys.txt"))
            .with_context(|| format!("the {} server", binary.label))?;
        servers.push(server);
    }
    Ok(servers)
}

/// The cached, then the cold-cache scenario on every binary's server: the
/// rows (per connection count, each binary's /healthz and verify rows) and
/// each binary's warm-up.
#[allow(clippy::too_many_arguments)]
fn measure(
    args: &BenchArgs,
    wrk: &Path,
    binaries: &[Binary],
    url: &str,
    admin_key: &str,
    out_dir: &Path,
    keys: usize,
    cached_only: bool,
) -> anyhow::Result<(Vec<Row>, Vec<Warm>)> {
    let script = out_dir.join("verify.lua");
    let keys_arg = out_dir.join("keys.txt").display().to_string();
    let mut rows = Vec::new();
    let connections: Vec<u32> = if cached_only {
        vec![args.connections.iter().copied().max().unwrap_or(128)]
    } else {
        args.connections.clone()
    };

    let cached_env = [("KEYWARD_CACHE_TTL_SECS", args.cache_ttl_secs.to_string())];
    let servers = start_servers(binaries, url, &cached_env, admin_key, out_dir, "cached")?;
    let mut warms = Vec::new();
    for server in &servers {
        warms.push(warm_up(args, wrk, server, keys, out_dir)?);
    }
    for &c in &connections {
        let rounds = interleave(wrk, args, c, binaries, &servers, &script, &keys_arg, "cached")?;
        for (binary, rounds) in rounds.iter().enumerate() {
            rows.extend(scenario_rows(keys, binary, c, ["GET /healthz", "POST /v1/keys/verify (cached)"], rounds));
        }
    }
    for (server, warm) in servers.iter().zip(&mut warms) {
        let after = rss_mib(server.child.id())?;
        eprintln!("bench: server RSS after the runs {after:.0} MiB");
        warm.rss_mib = warm.rss_mib.max(after);
    }
    servers.into_iter().for_each(Server::stop);

    if !args.no_cold && !cached_only {
        let cold_env = [("KEYWARD_CACHE_CAPACITY", "0".to_string())];
        let servers = start_servers(binaries, url, &cold_env, admin_key, out_dir, "cold")?;
        for &c in &connections {
            let rounds = interleave(wrk, args, c, binaries, &servers, &script, &keys_arg, "cold cache")?;
            for (binary, rounds) in rounds.iter().enumerate() {
                let scenarios = ["GET /healthz (cold-cache server)", "POST /v1/keys/verify (cold cache)"];
                rows.extend(scenario_rows(keys, binary, c, scenarios, rounds));
            }
        }
        servers.into_iter().for_each(Server::stop);
    }
    Ok((rows, warms))
}

fn db_name(args: &BenchArgs) -> &'static str {
    match args.db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    }
}

fn table_rows(table: &mut String, rows: &[Row], with_keys: bool) -> anyhow::Result<()> {
    let keys_col = if with_keys { "| keys " } else { "" };
    writeln!(
        table,
        "{keys_col}| scenario | conns | req/s | p50 ms | p99 ms | errors | req/s vs /healthz | p99 vs /healthz |"
    )?;
    writeln!(table, "{}|---|---:|---:|---:|---:|---:|---:|---:|", if with_keys { "|---:" } else { "" })?;
    for row in rows {
        let r = &row.result;
        let (ratio, p99_ratio) = match row.vs_healthz() {
            Some((rps, p99)) => (format!("{:.0} %", 100.0 * rps), format!("{p99:.2}×")),
            _ => ("—".into(), "—".into()),
        };
        let keys = if with_keys { format!("| {} ", row.keys) } else { String::new() };
        writeln!(
            table,
            "{keys}| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            row.scenario, row.connections, r.rps, r.p50_ms, r.p99_ms, r.errors, ratio, p99_ratio
        )?;
    }
    Ok(())
}

fn report(args: &BenchArgs, rows: &[Row], warm: &Warm, out_dir: &Path) -> anyhow::Result<()> {
    let db = db_name(args);
    let mut table = String::new();
    writeln!(
        table,
        "keyward bench — {db}, {} keys, wrk -t{} {} s per run, median of {} alternating rounds (/healthz, verify) on the same server (ratios: the median of the rounds' ratios), cached runs with a {} s cache TTL, all on 127.0.0.1 (wrk shares the cores); load average at the end {}\n",
        args.keys,
        args.threads,
        args.duration,
        args.rounds.max(1),
        args.cache_ttl_secs,
        load_average()
    )?;
    table_rows(&mut table, rows, false)?;
    writeln!(
        table,
        "\ncached server: warmed {} keys in {:.1} s, {} cache entries, peak sampled RSS {:.0} MiB",
        args.keys, warm.secs, warm.cache_entries, warm.rss_mib
    )?;
    print!("{table}");
    let path = out_dir.join(format!("bench-{db}.md"));
    std::fs::write(&path, &table)?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

fn report_scaling(args: &BenchArgs, runs: &[(usize, Vec<Row>, Warm)], out_dir: &Path) -> anyhow::Result<()> {
    let db = db_name(args);
    let mut table = String::new();
    writeln!(
        table,
        "keyward bench --scaling — {db}, wrk -t{} {} s per run, median of {} alternating rounds (/healthz, verify), cached verify with every key warmed, {} s cache TTL; load average at the end {}\n",
        args.threads,
        args.duration,
        args.rounds.max(1),
        args.cache_ttl_secs,
        load_average()
    )?;
    let rows: Vec<Row> = runs.iter().flat_map(|(_, rows, _)| rows.iter().cloned()).collect();
    table_rows(&mut table, &rows, true)?;
    writeln!(
        table,
        "\n| keys | cache entries | server RSS MiB | warm-up s | cached verify req/s | change vs first | verify ÷ /healthz | change vs first |"
    )?;
    writeln!(table, "|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let verify = |rows: &[Row]| {
        rows.iter()
            .find(|r| r.scenario.contains("cached"))
            .map_or((0.0, 0.0), |r| (r.result.rps, r.vs_healthz().map_or(0.0, |(ratio, _)| ratio)))
    };
    let change = |now: f64, first: f64| {
        if first > 0.0 { format!("{:+.1} %", 100.0 * (now - first) / first) } else { "—".into() }
    };
    let (first_rps, first_ratio) = runs.first().map_or((0.0, 0.0), |(_, rows, _)| verify(rows));
    for (keys, rows, warm) in runs {
        let (rps, ratio) = verify(rows);
        writeln!(
            table,
            "| {keys} | {} | {:.0} | {:.1} | {rps:.0} | {} | {:.0} % | {} |",
            warm.cache_entries,
            warm.rss_mib,
            warm.secs,
            change(rps, first_rps),
            100.0 * ratio,
            change(ratio, first_ratio)
        )?;
    }
    print!("{table}");
    let path = out_dir.join(format!("bench-scaling-{db}.md"));
    std::fs::write(&path, &table)?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------- --baseline report

/// The median, lowest and highest of the rounds' ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: Vec<f64>) -> Option<Spread> {
        let min = values.iter().copied().reduce(f64::min)?;
        let max = values.iter().copied().reduce(f64::max)?;
        Some(Spread { median: median_of(values), min, max })
    }

    /// `0.98×`, and with more than one round the range: `0.98× (0.95–1.01)`.
    fn show(&self) -> String {
        if self.min == self.max {
            format!("{:.2}×", self.median)
        } else {
            format!("{:.2}× ({:.2}–{:.2})", self.median, self.min, self.max)
        }
    }
}

/// current ÷ baseline of one scenario at one connection count, each ratio
/// taken within a round (the two binaries' runs side by side in time).
#[derive(Debug, Clone, PartialEq)]
struct Versus {
    rps: Option<Spread>,
    p99: Option<Spread>,
    /// Of the req/s and p99 "vs /healthz" ratios (verify rows only).
    vs_healthz: Option<(Spread, Spread)>,
}

fn versus(baseline: &Row, current: &Row) -> Versus {
    let per_round = |f: fn(&WrkResult) -> f64, floor: f64| {
        Spread::of(current.runs.iter().zip(&baseline.runs).map(|(c, b)| f(c) / f(b).max(floor)).collect())
    };
    let ratios = |pick: fn(&(f64, f64)) -> f64| {
        Spread::of(
            current.round_vs_healthz.iter().zip(&baseline.round_vs_healthz).map(|(c, b)| pick(c) / pick(b)).collect(),
        )
    };
    Versus {
        rps: per_round(|r| r.rps, 1.0),
        p99: per_round(|r| r.p99_ms, 1e-6),
        vs_healthz: ratios(|r| r.0).zip(ratios(|r| r.1)),
    }
}

/// The comparison table: per scenario and connection count, a row per
/// binary (as [`table_rows`] has them) and a "current ÷ baseline" row.
fn comparison_rows(table: &mut String, binaries: &[Binary], rows: &[Row]) -> anyhow::Result<()> {
    writeln!(
        table,
        "| scenario | conns | binary | req/s | p50 ms | p99 ms | errors | req/s vs /healthz | p99 vs /healthz |"
    )?;
    writeln!(table, "|---|---:|---|---:|---:|---:|---:|---:|---:|")?;
    let mut groups: Vec<(&str, u32)> = Vec::new();
    for row in rows {
        if !groups.contains(&(row.scenario.as_str(), row.connections)) {
            groups.push((row.scenario.as_str(), row.connections));
        }
    }
    for (scenario, connections) in groups {
        let row_of = |binary: usize| {
            rows.iter().find(|r| r.scenario == scenario && r.connections == connections && r.binary == binary)
        };
        for (i, binary) in binaries.iter().enumerate() {
            let Some(row) = row_of(i) else { continue };
            let r = &row.result;
            let (ratio, p99_ratio) = match row.vs_healthz() {
                Some((rps, p99)) => (format!("{:.0} %", 100.0 * rps), format!("{p99:.2}×")),
                _ => ("—".into(), "—".into()),
            };
            writeln!(
                table,
                "| {scenario} | {connections} | {} | {:.0} | {:.2} | {:.2} | {} | {ratio} | {p99_ratio} |",
                binary.label, r.rps, r.p50_ms, r.p99_ms, r.errors
            )?;
        }
        if let (Some(baseline), Some(current)) = (row_of(0), row_of(1)) {
            let v = versus(baseline, current);
            let show = |s: Option<Spread>| s.map_or("—".into(), |s| s.show());
            writeln!(
                table,
                "| {scenario} | {connections} | current ÷ baseline | {} | — | {} | — | {} | {} |",
                show(v.rps),
                show(v.p99),
                show(v.vs_healthz.map(|(rps, _)| rps)),
                show(v.vs_healthz.map(|(_, p99)| p99)),
            )?;
        }
    }
    Ok(())
}

fn report_comparison(
    args: &BenchArgs,
    binaries: &[Binary],
    rows: &[Row],
    warms: &[Warm],
    out_dir: &Path,
) -> anyhow::Result<()> {
    let db = db_name(args);
    let mut table = String::new();
    writeln!(
        table,
        "keyward bench --baseline — {db}, {} keys, {}; wrk -t{} {} s per run, {} rounds in which each server runs /healthz then verify, the two servers taking turns going first, on the same database; each binary's row is its median round (vs /healthz: the median of its rounds' ratios); current ÷ baseline: the median of the rounds' ratios (their range in brackets); cached runs with a {} s cache TTL, all on 127.0.0.1 (wrk shares the cores); load average at the end {}\n",
        args.keys,
        binaries.iter().map(|b| b.about.as_str()).collect::<Vec<_>>().join(" against "),
        args.threads,
        args.duration,
        args.rounds.max(1),
        args.cache_ttl_secs,
        load_average()
    )?;
    comparison_rows(&mut table, binaries, rows)?;
    writeln!(table)?;
    for (binary, warm) in binaries.iter().zip(warms) {
        writeln!(
            table,
            "cached server ({}): warmed {} keys in {:.1} s, {} cache entries, peak sampled RSS {:.0} MiB",
            binary.label, args.keys, warm.secs, warm.cache_entries, warm.rss_mib
        )?;
    }
    print!("{table}");
    let path = out_dir.join(format!("bench-{db}.md"));
    std::fs::write(&path, &table)?;
    eprintln!("bench: wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:8080/healthz
  2 threads and 128 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.00ms  30.00ms   90.00%
  Latency Distribution
     50%    1.95ms
     75%    2.40ms
     90%    3.10ms
     99%  812.00us
  612345 requests in 10.00s, 80.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  61234.50
Transfer/sec:      8.00MB
";
        let r = parse_wrk(text).unwrap();
        assert_eq!(r.rps, 61234.5);
        assert_eq!(r.p50_ms, 1.95);
        assert!((r.p99_ms - 0.812).abs() < 1e-9);
        assert_eq!(r.errors, 7);
        assert_eq!(r.requests, 612345);
        assert_eq!(parse_duration_ms("1.50s"), Some(1500.0));
    }

    fn run(rps: f64, p99_ms: f64) -> WrkResult {
        WrkResult { rps, p50_ms: p99_ms / 2.0, p99_ms, errors: 0, requests: rps as u64 }
    }

    /// Rounds of (healthz req/s, verify req/s), p99 = 1000 ÷ req/s.
    fn rounds(pairs: &[(f64, f64)]) -> Vec<Round> {
        pairs.iter().map(|&(h, v)| Round { health: run(h, 1000.0 / h), verify: run(v, 1000.0 / v) }).collect()
    }

    fn binaries() -> Vec<Binary> {
        ["baseline 70b37c4", "current"]
            .into_iter()
            .map(|label| Binary { label: label.into(), about: String::new(), tag: "", path: PathBuf::new() })
            .collect()
    }

    #[test]
    fn servers_take_turns_going_first() {
        assert_eq!(round_order(1, 2), [0, 1]);
        assert_eq!(round_order(2, 2), [1, 0]);
        assert_eq!(round_order(3, 2), [0, 1]);
        assert_eq!(round_order(2, 1), [0]);
    }

    #[test]
    fn rows_are_the_median_round_and_the_median_of_the_rounds_ratios() {
        let [health, verify] =
            scenario_rows(10, 1, 32, ["h", "v"], &rounds(&[(100.0, 50.0), (200.0, 160.0), (150.0, 105.0)]));
        assert_eq!((health.binary, health.result.rps, health.vs_healthz()), (1, 150.0, None));
        assert_eq!(verify.result.rps, 105.0);
        // Ratios 0.5, 0.8, 0.7: the median is 0.7, not 105 ÷ 150.
        let (rps, _) = verify.vs_healthz().unwrap();
        assert!((rps - 0.7).abs() < 1e-9);
    }

    #[test]
    fn current_over_baseline_pairs_the_runs_of_each_round() {
        let baseline = rounds(&[(100.0, 50.0), (200.0, 100.0), (100.0, 50.0)]);
        // Round 2 caught the current server in a slow moment (its req/s 0.55×
        // the baseline's) but not its ratio to its own /healthz: still 1.1×.
        let current = rounds(&[(100.0, 60.0), (100.0, 55.0), (100.0, 50.0)]);
        let [bh, bv] = scenario_rows(10, 0, 32, ["h", "v"], &baseline);
        let [ch, cv] = scenario_rows(10, 1, 32, ["h", "v"], &current);
        let health = versus(&bh, &ch);
        assert_eq!(health.rps, Some(Spread { median: 1.0, min: 0.5, max: 1.0 }));
        assert_eq!(health.vs_healthz, None);
        let verify = versus(&bv, &cv);
        assert_eq!(verify.rps, Some(Spread { median: 1.0, min: 0.55, max: 1.2 }));
        let (rps, p99) = verify.vs_healthz.unwrap();
        let close = |s: Spread, want: (f64, f64, f64)| {
            (s.median - want.0).abs() < 1e-9 && (s.min - want.1).abs() < 1e-9 && (s.max - want.2).abs() < 1e-9
        };
        assert!(close(rps, (1.1, 1.0, 1.2)), "{rps:?}");
        assert!(close(p99, (1.0 / 1.1, 1.0 / 1.2, 1.0)), "{p99:?}");
        assert_eq!(Spread { median: 1.0, min: 1.0, max: 1.0 }.show(), "1.00×");
        assert_eq!(rps.show(), "1.10× (1.00–1.20)");
    }

    #[test]
    fn comparison_table_has_a_row_per_binary_and_a_ratio_row() {
        let mut rows = Vec::new();
        rows.extend(scenario_rows(10, 0, 32, ["GET /healthz", "POST verify"], &rounds(&[(100.0, 50.0)])));
        rows.extend(scenario_rows(10, 1, 32, ["GET /healthz", "POST verify"], &rounds(&[(100.0, 55.0)])));
        let mut table = String::new();
        comparison_rows(&mut table, &binaries(), &rows).unwrap();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[2..],
            [
                "| GET /healthz | 32 | baseline 70b37c4 | 100 | 5.00 | 10.00 | 0 | — | — |",
                "| GET /healthz | 32 | current | 100 | 5.00 | 10.00 | 0 | — | — |",
                "| GET /healthz | 32 | current ÷ baseline | 1.00× | — | 1.00× | — | — | — |",
                "| POST verify | 32 | baseline 70b37c4 | 50 | 10.00 | 20.00 | 0 | 50 % | 2.00× |",
                "| POST verify | 32 | current | 55 | 9.09 | 18.18 | 0 | 55 % | 1.82× |",
                "| POST verify | 32 | current ÷ baseline | 1.10× | — | 0.91× | — | 1.10× | 0.91× |",
            ]
        );
    }
}
