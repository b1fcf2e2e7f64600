//! Python SDK suite for `cargo xtask test`: builds the test server and the
//! pyo3 extension from source into a venv (`target/py-venv`, reused), then runs
//! `mypy --strict` on the package and sdk-python's pytest suite (which starts
//! `target/debug/keyward` on a free port).
//!
//! The interpreter is `$PYTHON` or `python3` (3.9+). Dev tools are pinned in
//! `sdk-python/requirements-dev.txt`.

use std::{
    env,
    ffi::{OsStr, OsString},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::bail;

use crate::{run_command, workspace_path, workspace_root};

/// The triple napi passes; building the extension for the same one lets
/// maturin reuse the dependencies the Node build compiled (and vice versa)
/// in the shared target dir instead of building everything twice.
const TARGET: &str = "x86_64-unknown-linux-gnu";

pub fn test() -> anyhow::Result<()> {
    let sdk = workspace_path("sdk-python");
    if !sdk.join("pyproject.toml").exists() {
        eprintln!("python SDK: not present yet — skipped");
        return Ok(());
    }
    let python = python_program();
    let version_ok = Command::new(&python)
        .args(["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !version_ok {
        bail!("python SDK: `{}` is not a Python 3.9+ interpreter on PATH (set PYTHON=…)", python.to_string_lossy());
    }

    // The suite starts this binary; cargo rebuilds it only when stale.
    eprintln!("python SDK: building the test server (target/debug/keyward)");
    run_command(Command::new(cargo_program()).args(["build", "-p", "keyward-server"]).current_dir(workspace_root()))?;
    let server = target_dir().join("debug").join("keyward");
    if !server.exists() {
        bail!("python SDK: {} was not produced by `cargo build -p keyward-server`", server.display());
    }

    let venv = target_dir().join("py-venv");
    let bin = venv.join("bin");
    if bin.join("python").exists() {
        eprintln!("python SDK: reusing the venv {}", venv.display());
    } else {
        eprintln!("python SDK: creating the venv {}", venv.display());
        run_command(Command::new(&python).arg("-m").arg("venv").arg(&venv))?;
    }
    let vpython = bin.join("python");

    eprintln!("python SDK: installing the pinned dev tools (sdk-python/requirements-dev.txt)");
    run_command(
        Command::new(&vpython)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(sdk.join("requirements-dev.txt")),
    )?;

    eprintln!("python SDK: ruff check (the lint rules are in sdk-python/pyproject.toml)");
    run_command(
        in_venv(bin.join("ruff"), &venv).args(["check", "python", "tests", "examples", "bench"]).current_dir(&sdk),
    )?;

    eprintln!("python SDK: building the extension into the venv (maturin develop --target {TARGET})");
    run_command(in_venv(bin.join("maturin"), &venv).args(["develop", "--target", TARGET]).current_dir(&sdk))?;

    // The generated code, and the examples and bench that use it as a user would.
    eprintln!("python SDK: mypy --strict python/keyward examples bench");
    run_command(
        in_venv(&vpython, &venv)
            .args(["-m", "mypy", "--strict", "--cache-dir"])
            .arg(target_dir().join("py-mypy-cache"))
            .args(["python/keyward", "examples", "bench"])
            .current_dir(&sdk),
    )?;

    eprintln!("python SDK: pytest -q");
    run_command(
        in_venv(&vpython, &venv)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
            .env("KEYWARD_SERVER_BIN", &server)
            // The suite configures its clients itself; a developer's own
            // settings must not leak into it.
            .env_remove("KEYWARD_API_KEY")
            .env_remove("KEYWARD_BASE_URL")
            .current_dir(&sdk),
    )?;
    Ok(())
}

/// `command` as if the venv were activated (maturin installs into `VIRTUAL_ENV`).
fn in_venv(program: impl AsRef<OsStr>, venv: &Path) -> Command {
    let bin = venv.join("bin");
    let path = match env::var_os("PATH") {
        Some(path) => {
            let mut paths = vec![bin];
            paths.extend(env::split_paths(&path));
            env::join_paths(paths).unwrap_or(path)
        }
        None => bin.into_os_string(),
    };
    let mut command = Command::new(program);
    command.env("VIRTUAL_ENV", venv).env("PATH", path).env_remove("CONDA_PREFIX");
    command
}

/// `$PYTHON`, else `python3`.
pub(crate) fn python_program() -> OsString {
    env::var_os("PYTHON").unwrap_or_else(|| "python3".into())
}

pub(crate) fn cargo_program() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace target dir (honours `CARGO_TARGET_DIR`, as maturin and cargo do).
pub(crate) fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { workspace_root().join(dir) }
        }
        _ => workspace_path("target"),
    }
}
