//! Node SDK suite for `cargo xtask test` (replace this module wholesale when
//! sdk-node lands; keep the `test` signature).

pub fn test() -> anyhow::Result<()> {
    if !crate::workspace_path("sdk-node/package.json").exists() {
        eprintln!("node SDK: not present yet — skipped");
        return Ok(());
    }
    anyhow::bail!(
        "node SDK: sdk-node/package.json exists but xtask/src/node.rs has no test runner yet"
    )
}
