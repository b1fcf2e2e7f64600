//! Node SDK suite for `cargo xtask test`: builds the test server and the napi
//! addon from source, then runs sdk-node's `node --test` suite (which starts
//! `target/debug/keyward` on a free port) and the TypeScript check.

use std::{
    env,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::SystemTime,
};

use anyhow::bail;

use crate::{run_command, workspace_path, workspace_root};

pub fn test() -> anyhow::Result<()> {
    let sdk = workspace_path("sdk-node");
    if !sdk.join("package.json").exists() {
        eprintln!("node SDK: not present yet — skipped");
        return Ok(());
    }
    require_node_and_npm("node SDK")?;

    // The suites start this binary; cargo rebuilds it only when stale.
    eprintln!("node SDK: building the test server (target/debug/keyward)");
    run_command(Command::new(cargo_program()).args(["build", "-p", "keyward-server"]).current_dir(workspace_root()))?;
    let server = target_dir().join("debug").join("keyward");
    if !server.exists() {
        bail!("node SDK: {} was not produced by `cargo build -p keyward-server`", server.display());
    }

    if npm_install_is_stale(&sdk) {
        eprintln!("node SDK: node_modules is missing or older than package-lock.json: npm ci");
        run_command(npm(&sdk).arg("ci"))?;
    } else {
        eprintln!("node SDK: node_modules is up to date with package-lock.json");
    }
    eprintln!("node SDK: eslint (npm run lint; the rules are in sdk-node/eslint.config.js)");
    run_command(npm(&sdk).args(["run", "lint"]))?;
    eprintln!("node SDK: building the native addon (npm run build)");
    run_command(npm(&sdk).args(["run", "build"]))?;
    eprintln!("node SDK: npm test");
    run_command(npm(&sdk).arg("test").env("KEYWARD_SERVER_BIN", &server))?;
    eprintln!("node SDK: tsc --noEmit (npm run typecheck)");
    run_command(npm(&sdk).args(["run", "typecheck"]))?;
    Ok(())
}

fn cargo_program() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace target dir (honours `CARGO_TARGET_DIR`, as napi and cargo do).
fn target_dir() -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { workspace_root().join(dir) }
        }
        _ => workspace_path("target"),
    }
}

/// Fails naming `suite` when `node` or `npm` is not on PATH.
pub(crate) fn require_node_and_npm(suite: &str) -> anyhow::Result<()> {
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            bail!("{suite}: `{tool}` is not on PATH (Node 20+ with npm is required)");
        }
    }
    Ok(())
}

pub(crate) fn npm(dir: &Path) -> Command {
    let mut command = Command::new("npm");
    command.current_dir(dir).env("npm_config_update_notifier", "false").env("npm_config_fund", "false");
    command
}

/// `npm ci` is needed when node_modules is missing, or when npm's record of
/// what it installed (node_modules/.package-lock.json) is older than the lock file.
pub(crate) fn npm_install_is_stale(sdk: &Path) -> bool {
    let modified = |path: PathBuf| fs::metadata(path).and_then(|meta| meta.modified()).ok();
    let installed: Option<SystemTime> = modified(sdk.join("node_modules").join(".package-lock.json"));
    let locked = modified(sdk.join("package-lock.json"));
    match (installed, locked) {
        (Some(installed), Some(locked)) => installed < locked,
        _ => true,
    }
}
