//! The SDK surfaces generated from the spec (issue: every operation once):
//! [`model`] reads the operations out of `openapi/keyward.json`, and one
//! module per language writes that language's files from it.

pub mod model;
pub mod node;
pub mod python;
pub mod rust;

use serde_json::Value;

/// Every generated SDK file: (workspace-relative path, contents).
pub fn generate(spec: &Value) -> anyhow::Result<Vec<(&'static str, String)>> {
    let model = model::Model::from_spec(spec)?;
    let mut files = vec![
        (rust::RESOURCES_PATH, crate::codegen::rustfmt(&rust::resources(&model))?),
        (rust::DISPATCH_PATH, crate::codegen::rustfmt(&rust::dispatch(&model))?),
    ];
    files.extend(python::files(&model)?);
    files.extend(node::files(&model)?);
    Ok(files)
}
