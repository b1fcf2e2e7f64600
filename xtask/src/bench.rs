//! `cargo xtask bench`: wrk against /v1/keys/verify and /healthz (owned by
//! another issue; this is the placeholder the CLI dispatches to).

pub fn run() -> anyhow::Result<()> {
    anyhow::bail!("cargo xtask bench: not implemented yet")
}
