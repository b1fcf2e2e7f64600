//! `cargo xtask …`: the keyward developer tool (spec emission, SDK codegen,
//! the project's single test command). See `cargo xtask --help`.

mod bench;
mod codegen;
mod docs;
mod downgrade;
mod drift;
mod ecosystem;
mod fuzz;
mod layering;
mod node;
mod openapi;
mod python;
#[cfg(test)]
mod sample;
mod sdkgen;
mod test;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", bin_name = "cargo xtask", about = "keyward developer tasks", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write openapi/keyward.json (OpenAPI 3.1, from keyward_server::openapi())
    /// and its 3.0.3 downgrade openapi/keyward.v3_0.json.
    Openapi {
        /// Write nothing; fail with a diff if the committed files are stale.
        #[arg(long)]
        check: bool,
    },
    /// Regenerate sdk-rust/src/generated.rs with progenitor from the current
    /// server spec (also refreshing openapi/*.json).
    Codegen {
        /// Write nothing; fail with a diff if the committed file is stale.
        #[arg(long)]
        check: bool,
    },
    /// Run every test suite: house rules, docs, drift checks, Rust,
    /// schemathesis, third-party OpenAPI tools, Python SDK, Node SDK.
    Test(test::TestArgs),
    /// Run schemathesis over every operation of the served spec (the `fuzz`
    /// suite of `cargo xtask test`, with more examples).
    Fuzz(fuzz::FuzzArgs),
    /// Benchmark /v1/keys/verify against /healthz with wrk (release server,
    /// seeded database, cached and cold-cache runs; table in target/bench/).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    // Errors here are the user's next step ("run cargo xtask openapi"), not
    // bugs: print the message chain without a backtrace.
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Openapi { check } => {
            let specs = openapi::generate()?;
            if check { openapi::check(&specs) } else { openapi::write(&specs) }
        }
        Command::Codegen { check } => {
            let specs = openapi::generate()?;
            let files = codegen::generate_all(&specs)?;
            if check {
                codegen::check(&files)
            } else {
                // codegen always starts from the current server spec, so keep the
                // committed spec files in step with the client generated from them.
                openapi::write(&specs)?;
                codegen::write(&files)
            }
        }
        Command::Test(args) => test::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
        Command::Bench(args) => bench::run(&args),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is inside the workspace")
}

/// `relative` resolved against the workspace root.
pub fn workspace_path(relative: &str) -> PathBuf {
    workspace_root().join(relative)
}

/// Runs `command` with our stdio, echoing it first; fails naming it.
pub(crate) fn run_command(command: &mut std::process::Command) -> anyhow::Result<()> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command.get_args().map(|arg| arg.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    eprintln!("$ {shown}");
    let status = anyhow::Context::with_context(command.status(), || format!("running `{shown}`"))?;
    anyhow::ensure!(status.success(), "`{shown}` failed ({status})");
    Ok(())
}
