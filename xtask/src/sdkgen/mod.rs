//! The SDK surfaces generated from the spec (issue: every operation once):
//! [`model`] reads the operations out of `openapi/keyward.json`, and one
//! module per language writes that language's files from it; [`reference`]
//! writes each SDK's API reference (`docs/reference/`) from the same model.

pub mod model;
pub mod node;
pub mod python;
pub mod reference;
pub mod rust;

use serde_json::Value;

/// Every generated SDK file: (workspace-relative path, contents).
pub fn generate(spec: &Value) -> anyhow::Result<Vec<(&'static str, String)>> {
    let model = model::Model::from_spec(spec)?;
    let mut files = vec![
        (rust::RESOURCES_PATH, crate::codegen::rustfmt(&rust::resources(&model))?),
        (rust::DISPATCH_PATH, crate::codegen::rustfmt(&rust::dispatch(&model))?),
        (rust::CHECKS_PATH, crate::codegen::rustfmt(&rust::checks(&model))?),
    ];
    files.extend(python::files(&model)?);
    files.extend(node::files(&model)?);
    files.extend(reference::files(&model)?);
    Ok(files)
}
