//! The Node SDK's generated surface (sdk-node/lib/, sdk-node/index.d.ts).

use super::model::Model;

/// (workspace-relative path, contents) of every generated Node file.
pub fn files(_model: &Model) -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(Vec::new())
}
