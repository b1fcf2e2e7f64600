//! Python SDK suite for `cargo xtask test` (replace this module wholesale when
//! sdk-python lands; keep the `test` signature).

pub fn test() -> anyhow::Result<()> {
    if !crate::workspace_path("sdk-python/pyproject.toml").exists() {
        eprintln!("python SDK: not present yet — skipped");
        return Ok(());
    }
    anyhow::bail!(
        "python SDK: sdk-python/pyproject.toml exists but xtask/src/python.rs has no test runner yet"
    )
}
