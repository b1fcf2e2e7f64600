//! `cargo xtask test`: the project's single test command (README and .ci/run
//! call it). Every step runs even when an earlier one failed; the exit status
//! is non-zero when any step failed, after a summary table.

use std::{
    env,
    ffi::OsString,
    fs,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::ValueEnum;

use crate::{codegen, docs, ecosystem, fuzz, layering, node, openapi, python, workspace_path, workspace_root};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Run only these suites (repeatable; default: all).
    #[arg(long, value_enum, value_name = "SUITE")]
    only: Vec<Suite>,
    /// Skip these suites (repeatable).
    #[arg(long, value_enum, value_name = "SUITE")]
    skip: Vec<Suite>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Suite {
    /// house rules: cargo fmt --check, clippy -D warnings, the layering check
    Lint,
    /// the READMEs and docs/: relative links and anchors resolve, documented xtask and server
    /// commands parse, blocks marked `<!-- check: run -->` run (xtask/src/docs.rs)
    Docs,
    /// openapi --check and codegen --check
    Drift,
    /// cargo nextest (or cargo test) over the workspace, plus doctests
    Rust,
    /// schemathesis over the served OpenAPI spec (a short pass; `cargo xtask fuzz` runs longer)
    Fuzz,
    /// third-party OpenAPI tools: Redocly and Spectral lint both spec files, openapi-typescript and
    /// openapi-python-client generate clients that make real calls (xtask/src/ecosystem.rs)
    Ecosystem,
    /// the Python SDK's build and tests
    Python,
    /// the Node SDK's build and tests
    Node,
}

impl TestArgs {
    fn wants(&self, suite: Suite) -> bool {
        (self.only.is_empty() || self.only.contains(&suite)) && !self.skip.contains(&suite)
    }
}

enum Outcome {
    Ok,
    Failed,
    Skipped,
}

struct StepResult {
    name: &'static str,
    outcome: Outcome,
    duration: Duration,
}

pub fn run(args: &TestArgs) -> anyhow::Result<()> {
    let mut results = Vec::new();
    let mut step = |name: &'static str, suite: Suite, body: &mut dyn FnMut() -> anyhow::Result<()>| {
        if !args.wants(suite) {
            results.push(StepResult { name, outcome: Outcome::Skipped, duration: Duration::ZERO });
            return;
        }
        eprintln!("\n==================== {name} ====================");
        let started = Instant::now();
        let outcome = match body() {
            Ok(()) => Outcome::Ok,
            Err(error) => {
                eprintln!("error: {error:#}");
                Outcome::Failed
            }
        };
        results.push(StepResult { name, outcome, duration: started.elapsed() });
    };

    step("cargo fmt --check", Suite::Lint, &mut || cargo(&["fmt", "--all", "--", "--check"]));
    step("clippy -D warnings", Suite::Lint, &mut || {
        cargo(&["clippy", "--workspace", "--all-targets", "--no-deps", "--", "-D", "warnings"])
    });
    step("layering", Suite::Lint, &mut layering::check);
    step("docs: links, commands, runnable blocks", Suite::Docs, &mut docs::check);
    // Built once, shared by both drift checks: generating the spec is the
    // same work either way.
    let mut specs = None;
    step("openapi --check", Suite::Drift, &mut || {
        let generated = openapi::generate()?;
        let checked = openapi::check(&generated);
        specs = Some(generated);
        checked
    });
    step("codegen --check", Suite::Drift, &mut || {
        let Some(specs) = specs.as_ref() else { bail!("the OpenAPI spec could not be generated (see the step above)") };
        codegen::check(&codegen::generate_all(specs)?)
    });
    let nextest = nextest_available();
    step(if nextest { "rust tests (cargo nextest)" } else { "rust tests (cargo test)" }, Suite::Rust, &mut || {
        rust_tests(nextest)
    });
    if nextest {
        // nextest does not run doctests; `cargo test` (the fallback) already did.
        step("rust doctests", Suite::Rust, &mut rust_doctests);
    }
    step("schemathesis (fuzz)", Suite::Fuzz, &mut fuzz::test);
    step("third-party OpenAPI tools (ecosystem)", Suite::Ecosystem, &mut ecosystem::test);
    step("python SDK", Suite::Python, &mut python::test);
    step("node SDK", Suite::Node, &mut node::test);

    print_summary(&results);
    let failed: Vec<&str> =
        results.iter().filter(|result| matches!(result.outcome, Outcome::Failed)).map(|result| result.name).collect();
    if failed.is_empty() { Ok(()) } else { bail!("failed: {}", failed.join(", ")) }
}

fn rust_tests(nextest: bool) -> anyhow::Result<()> {
    // The suites read this themselves; it is only passed through (the child
    // inherits our environment). The value may hold credentials: not printed.
    if env::var_os("KEYWARD_TEST_POSTGRES_URL").is_some_and(|url| !url.is_empty()) {
        eprintln!("KEYWARD_TEST_POSTGRES_URL is set: storage suites run against SQLite and Postgres");
    } else {
        eprintln!("KEYWARD_TEST_POSTGRES_URL is not set: storage suites run against SQLite only");
    }
    // The process suites spawn `target/debug/keyward`; the harness builds it
    // only when it is missing, so build it here to never test a stale one.
    cargo(&["build", "-p", "keyward-server", "--bin", "keyward"])?;
    let mut args = if nextest {
        // `--no-tests=warn`: a workspace (or filter) without tests is not a failure.
        vec!["nextest", "run", "--workspace", "--no-fail-fast", "--no-tests=warn"]
    } else {
        eprintln!("cargo-nextest is not installed: falling back to cargo test");
        vec!["test", "--workspace", "--no-fail-fast"]
    };
    let excluded = binding_crates()?;
    args.extend(excluded.iter().flat_map(|name| ["--exclude", name.as_str()]));
    cargo(&args)
}

fn rust_doctests() -> anyhow::Result<()> {
    let mut args = vec!["test", "--workspace", "--doc", "--no-fail-fast"];
    let excluded = binding_crates()?;
    args.extend(excluded.iter().flat_map(|name| ["--exclude", name.as_str()]));
    cargo(&args)
}

/// The pyo3 and napi crates are workspace members (shared target dir and
/// lock file), but their test harnesses cannot link outside a Python or Node
/// process; the Python and Node suites build and test them through maturin
/// and napi instead.
fn binding_crates() -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for manifest in ["sdk-python/Cargo.toml", "sdk-node/Cargo.toml"] {
        let path = workspace_path(manifest);
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let parsed: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(name) = parsed.get("package").and_then(|package| package.get("name")).and_then(|name| name.as_str())
        {
            eprintln!("excluding {name} ({manifest}): built and tested by its SDK suite");
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The cargo that is running us (cargo sets `CARGO` for `cargo run`).
fn cargo_program() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn nextest_available() -> bool {
    Command::new(cargo_program())
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs cargo in the workspace root with our stdio and environment, so the
/// runner's own progress and summary are what the user sees.
fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let program = cargo_program();
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&program)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("running {}", program.to_string_lossy()))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn print_summary(results: &[StepResult]) {
    let width = results.iter().map(|result| result.name.len()).max().unwrap_or(0).max("step".len());
    println!("\n{:width$}  {:7}  {:>8}", "step", "result", "time");
    println!("{}", "-".repeat(width + 19));
    for result in results {
        let outcome = match result.outcome {
            Outcome::Ok => "ok",
            Outcome::Failed => "FAILED",
            Outcome::Skipped => "skipped",
        };
        let time = match result.outcome {
            Outcome::Skipped => "-".to_owned(),
            _ => format!("{:.1}s", result.duration.as_secs_f64()),
        };
        println!("{:width$}  {outcome:7}  {time:>8}", result.name);
    }
}
