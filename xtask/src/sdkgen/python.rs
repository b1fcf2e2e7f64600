//! The Python SDK's generated surface (sdk-python/python/keyward/).

use super::model::Model;

/// (workspace-relative path, contents) of every generated Python file.
pub fn files(_model: &Model) -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(Vec::new())
}
