//! `cargo xtask bench --baseline <rev>`: the release server of another git
//! revision, built once and kept next to the current build.
//!
//! The revision's tree is extracted with `git archive` into
//! `<target>/bench-baseline/<short-sha>/` (no worktree registered in `.git`,
//! so `cargo clean` removes it all) and built with the same `CARGO_TARGET_DIR`
//! as the current checkout, so the dependencies are shared and only
//! `keyward-server` itself compiles again. That build writes
//! `<target>/release/keyward` too: the binary is copied to
//! `<target>/bench-baseline/keyward-<short-sha>` at once, and the caller
//! builds the current server afterwards (which links `release/keyward` back
//! to the current one).

use anyhow::{Context, bail, ensure};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

/// The baseline's release server, ready to run.
pub struct Baseline {
    pub sha: String,
    pub short: String,
    pub bin: PathBuf,
}

/// Resolves `rev`, extracts its tree if not already there, checks that its
/// migrations are the current ones (both servers run on one seeded database)
/// and builds its release server unless `keyward-<short-sha>` exists.
/// `no_build` forbids building: the baseline must have been built before.
pub fn prepare(root: &Path, target: &Path, rev: &str, no_build: bool) -> anyhow::Result<Baseline> {
    ensure!(!rev.starts_with('-'), "--baseline {rev:?}: not a git revision");
    let sha = git(root, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .with_context(|| format!("--baseline {rev:?} does not name a commit of this repository"))?;
    let short = git(root, &["rev-parse", "--short", &sha])?;
    let folder = target.join("bench-baseline");
    let tree = folder.join(&short);
    let bin = folder.join(format!("keyward-{short}"));
    std::fs::create_dir_all(&folder)?;

    if !tree.join("Cargo.toml").exists() {
        extract(root, &sha, &tree)?;
    }
    let differences = migration_differences(
        &read_tree(&root.join("server/migrations"))?,
        &read_tree(&tree.join("server/migrations"))?,
    );
    if !differences.is_empty() {
        // Of no use to any later run either.
        let _ = std::fs::remove_dir_all(&tree);
        bail!(
            "the baseline {short} has other database migrations than the current tree ({}); both servers must run on one \
             seeded database, so --baseline needs a revision with the same schema",
            differences.join(", ")
        );
    }

    if bin.exists() {
        eprintln!("bench: baseline {short} already built ({})", bin.display());
    } else {
        ensure!(
            !no_build,
            "--no-build: the baseline {short} is not built yet ({} is missing); run once without --no-build",
            bin.display()
        );
        eprintln!("bench: building baseline {sha} (first time: a few minutes)");
        let started = Instant::now();
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "-p", "keyward-server", "--bin", "keyward"])
            .current_dir(&tree)
            .env("CARGO_TARGET_DIR", target)
            .status()
            .context("running cargo build for the baseline")?;
        ensure!(status.success(), "building the baseline {short}'s release server failed (in {})", tree.display());
        // Copied under a temporary name first: a half-written binary is never
        // taken for a built baseline by the next run.
        let partial = folder.join(format!("keyward-{short}.partial"));
        std::fs::copy(target.join("release/keyward"), &partial).context("copying the baseline's binary")?;
        std::fs::rename(&partial, &bin)?;
        eprintln!("bench: built baseline {short} in {:.0} s ({})", started.elapsed().as_secs_f64(), bin.display());
    }
    Ok(Baseline { sha, short, bin })
}

/// HEAD's short sha, and whether tracked files differ from it (the current
/// server is built from the working tree).
pub fn describe_current(root: &Path) -> String {
    let head = git(root, &["rev-parse", "--short", "HEAD"]).unwrap_or_else(|_| "unknown".into());
    let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty()).unwrap_or(false);
    if dirty { format!("{head} + uncommitted changes") } else { head }
}

/// `git archive <sha> | tar -x` into `tree`, through `<tree>.partial` so an
/// interrupted extraction is never taken for a complete tree.
fn extract(root: &Path, sha: &str, tree: &Path) -> anyhow::Result<()> {
    let partial = tree.with_extension("partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(&partial)?;
    eprintln!("bench: extracting {sha} into {}", tree.display());
    let mut archive = Command::new("git")
        .args(["archive", "--format=tar", sha])
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .context("running git archive")?;
    let stdout = archive.stdout.take().context("git archive has no stdout")?;
    let untar = Command::new("tar").arg("-x").arg("-C").arg(&partial).stdin(stdout).status().context("running tar")?;
    let archived = archive.wait()?;
    ensure!(archived.success() && untar.success(), "extracting {sha} failed (git archive {archived}, tar {untar})");
    std::fs::rename(&partial, tree)?;
    Ok(())
}

fn git(root: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git").args(args).current_dir(root).stderr(Stdio::null()).output().context("running git")?;
    ensure!(out.status.success(), "`git {}` failed", args.join(" "));
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// Every file under `dir`, by path relative to it.
fn read_tree(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).with_context(|| format!("reading {}", next.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir)?.to_string_lossy().into_owned();
                files.insert(relative, std::fs::read(&path)?);
            }
        }
    }
    Ok(files)
}

/// What differs between two migration trees, one entry per file.
fn migration_differences(current: &BTreeMap<String, Vec<u8>>, baseline: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut differences = Vec::new();
    for (path, content) in current {
        match baseline.get(path) {
            None => differences.push(format!("{path} only in the current tree")),
            Some(other) if other != content => differences.push(format!("{path} changed")),
            Some(_) => {}
        }
    }
    for path in baseline.keys().filter(|path| !current.contains_key(*path)) {
        differences.push(format!("{path} only in the baseline"));
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files.iter().map(|(path, sql)| (path.to_string(), sql.as_bytes().to_vec())).collect()
    }

    #[test]
    fn names_every_migration_that_differs() {
        let current = tree(&[("sqlite/0001.sql", "a"), ("sqlite/0002.sql", "b"), ("sqlite/0003.sql", "c")]);
        assert!(migration_differences(&current, &current).is_empty());
        let baseline = tree(&[("sqlite/0001.sql", "a"), ("sqlite/0002.sql", "B"), ("postgres/0001.sql", "a")]);
        assert_eq!(
            migration_differences(&current, &baseline),
            [
                "sqlite/0002.sql changed",
                "sqlite/0003.sql only in the current tree",
                "postgres/0001.sql only in the baseline"
            ]
        );
    }
}
