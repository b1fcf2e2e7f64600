//! Comparing generated artifacts with the committed ones.

use std::fs;

use anyhow::{Context, bail};
use similar::TextDiff;

use crate::workspace_path;

/// A diff longer than this is cut (the fix is the same: regenerate).
const MAX_DIFF_LINES: usize = 400;

/// Writes `contents` to the workspace-relative `path` unless it already holds
/// exactly that; reports what it did on stderr.
pub fn write_if_changed(path: &str, contents: &str) -> anyhow::Result<()> {
    let full_path = workspace_path(path);
    if fs::read_to_string(&full_path).ok().as_deref() == Some(contents) {
        eprintln!("unchanged {path}");
        return Ok(());
    }
    if let Some(parent) = full_path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(&full_path, contents).with_context(|| format!("writing {}", full_path.display()))?;
    eprintln!("wrote {path}");
    Ok(())
}

/// Fails with a unified diff when the committed `path` differs from
/// `expected`. `regenerate` is the command that fixes it.
pub fn check(path: &str, expected: &str, regenerate: &str) -> anyhow::Result<()> {
    let full_path = workspace_path(path);
    let committed = match fs::read_to_string(&full_path) {
        Ok(committed) => committed,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            bail!("{path} does not exist: run `{regenerate}` and commit the result")
        }
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", full_path.display()));
        }
    };
    if committed == expected {
        eprintln!("{path} is up to date");
        return Ok(());
    }
    let diff = TextDiff::from_lines(committed.as_str(), expected);
    let diff = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (committed)"), &format!("{path} (generated)"))
        .to_string();
    let total_lines = diff.lines().count();
    for line in diff.lines().take(MAX_DIFF_LINES) {
        eprintln!("{line}");
    }
    if total_lines > MAX_DIFF_LINES {
        eprintln!("… {} more diff lines", total_lines - MAX_DIFF_LINES);
    }
    bail!("{path} is stale: run `{regenerate}` and commit the result")
}
