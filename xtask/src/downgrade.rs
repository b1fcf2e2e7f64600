//! OpenAPI 3.1 → 3.0.3 downgrade.
//!
//! utoipa 6 emits only OpenAPI 3.1 (JSON Schema 2020-12 dialect); progenitor
//! 0.15 reads only 3.0.x through the `openapiv3` crate. This module rewrites
//! the document so that it keeps its meaning under 3.0 rules, and refuses (with
//! the JSON pointer of the offending node) whenever it cannot.
//!
//! The walk is *positional*: it follows the OpenAPI object structure (paths →
//! operations → parameters / request bodies / responses → media types →
//! schemas, and the same under `components`), so it knows whether an object is
//! a Schema Object or something else. That matters because some keywords mean
//! different things in different places — `examples` is an array of values in
//! a schema (3.1 only) but a map of Example Objects in a media type or
//! parameter (valid 3.0, left alone).
//!
//! Rewrites, in the order they apply to one schema:
//!
//! * boolean schema `true` → `{}`; `false` has no 3.0 form → error.
//! * `oneOf`/`anyOf` with a `{type: "null"}` member → `nullable: true` plus
//!   `allOf: [<the one remaining member>]` (the wrapper is needed because
//!   `openapiv3` drops a `nullable` that sits beside a bare `$ref`), or the
//!   remaining members under the same keyword when several remain. This runs
//!   before recursing into members, so the null member is never visited on
//!   its own (progenitor panics on a leftover `{type: "null"}`). Strict 3.0
//!   validators still refuse `null` there (the `allOf` member does not admit
//!   it), but 3.0 has no spelling of a nullable reference that they accept and
//!   progenitor reads as `Option<T>`; so the server's examples show such
//!   fields with a value, not `null`.
//! * `$ref` with sibling keywords → `{allOf: [{$ref}], <siblings>}` (3.0
//!   ignores everything beside a `$ref`).
//! * `type: [T, "null"]` → `type: T, nullable: true`; `type: [T]` → `type: T`.
//!   `type: "null"`/`["null"]` on its own and multi-type arrays such as
//!   `["string", "integer"]` are errors: there is no faithful 3.0 spelling
//!   that progenitor understands, and the server should not emit them (write
//!   an enum or a `oneOf` of schemas instead).
//! * `const: v` → `enum: [v]`.
//! * `examples: [a, …]` → `example: a`.
//! * numeric `exclusiveMinimum`/`exclusiveMaximum` → `minimum`/`maximum` plus
//!   the boolean form (or dropped when an inclusive bound is already stricter).
//! * `format: u-int32` (utoipa's `non_strict_integers` spelling) → `uint32`,
//!   which typify maps to `u32` (it would otherwise fall back to `i64`).
//! * `contentEncoding: base64` on a string without a format → `format: byte`.
//! * annotation-only keywords and assertions whose removal only makes the
//!   client more lenient (`$schema`, `$id`, `$comment`, `$anchor`,
//!   `contentMediaType`, `contentSchema`, `propertyNames`,
//!   `unevaluatedProperties`, `unevaluatedItems`, `dependentRequired`,
//!   `dependentSchemas`, `contains`, `minContains`, `maxContains`) are
//!   dropped.
//! * anything else that is not a 3.0 schema keyword (`if`/`then`/`else`,
//!   `prefixItems`, `patternProperties`, `$defs`, `$dynamicRef`, …) is an
//!   error: dropping it would change the shape of the data.
//!
//! Document-level rewrites: `openapi` → `3.0.3`; `jsonSchemaDialect`,
//! `info.summary`, `license.identifier` and `webhooks` are dropped (webhooks
//! describe requests the server sends, which a 3.0 client has no use for);
//! non-empty `components.pathItems` and `mutualTLS` security schemes are
//! errors; `summary`/`description` beside a non-schema `$ref` are dropped
//! (3.1 lets them override the target's annotations; 3.0 has no such thing);
//! a response without `description` (required by 3.0 and by `openapiv3`) gets
//! its status code's reason phrase; `nullable` at the top of a parameter's or
//! header's schema is dropped (a header or query value cannot be JSON null —
//! absence is `required: false` — and progenitor would generate
//! `Option<Option<T>>` code that does not compile).
//!
//! A final pass gives every `nullable` its `type`: 3.0.3 says `nullable: true`
//! only has effect when `type` is defined in the same Schema Object, so a
//! nullable `allOf: [{$ref}]` wrapper without one is an error to strict
//! readers (Redocly's `nullable-type-sibling`, Spectral's example checks). The
//! type is the one its members agree on, following `$ref`s into
//! `components.schemas`; a `nullable` whose members agree on none is an error.
//! `license.identifier` (an SPDX id, 3.1 only) becomes the license's `url`
//! (its SPDX page) when the license has none.
//!
//! The last pass asserts that no `type: "null"` survived anywhere.

use serde_json::{Map, Value, json};

/// Why a 3.1 document could not be expressed in 3.0; `pointer` is the RFC 6901
/// JSON pointer of the node that could not be translated ("" is the root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot downgrade {} to OpenAPI 3.0: {message}", describe_pointer(.pointer))]
pub struct DowngradeError {
    pub pointer: String,
    pub message: String,
}

fn describe_pointer(pointer: &str) -> String {
    if pointer.is_empty() { "the document root".to_owned() } else { format!("`{pointer}`") }
}

type Result<T, E = DowngradeError> = std::result::Result<T, E>;

fn error<T>(pointer: &str, message: impl Into<String>) -> Result<T> {
    Err(DowngradeError { pointer: pointer.to_owned(), message: message.into() })
}

/// The pointer of `segment` below `pointer`, escaped per RFC 6901.
fn child(pointer: &str, segment: &str) -> String {
    format!("{pointer}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// Keywords a 3.0.3 Schema Object may carry (besides `x-` extensions).
const SCHEMA_KEYWORDS_3_0: &[&str] = &[
    "$ref",
    "title",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "enum",
    "type",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "items",
    "properties",
    "additionalProperties",
    "description",
    "format",
    "default",
    "nullable",
    "discriminator",
    "readOnly",
    "writeOnly",
    "xml",
    "externalDocs",
    "example",
    "deprecated",
];

/// 2020-12 keywords that are annotations, or assertions whose absence only
/// makes a generated client accept more: safe to drop.
const SCHEMA_KEYWORDS_DROPPED: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$anchor",
    "contentMediaType",
    "contentSchema",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "contains",
    "minContains",
    "maxContains",
];

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Rewrites an OpenAPI 3.1 document into an equivalent OpenAPI 3.0.3 one.
pub fn downgrade(mut spec: Value) -> Result<Value> {
    let Some(root) = spec.as_object_mut() else {
        return error("", "the document is not a JSON object");
    };
    match root.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.1.") => {}
        Some(version) => {
            return error("/openapi", format!("expected a 3.1.x document, found version {version:?}"));
        }
        None => return error("/openapi", "missing `openapi` version string"),
    }
    root.insert("openapi".into(), json!("3.0.3"));
    // The schema dialect is implied by the version in 3.0; the schemas below are
    // rewritten into that dialect.
    root.remove("jsonSchemaDialect");
    // Webhooks are requests the server *sends*; a generated client never calls
    // them and 3.0 has no place for them.
    root.remove("webhooks");
    // `paths` is optional in 3.1 but required in 3.0.
    root.entry("paths").or_insert_with(|| json!({}));

    let keys: Vec<String> = root.keys().cloned().collect();
    for key in keys {
        let pointer = child("", &key);
        let value = root.get_mut(&key).expect("key listed above");
        match key.as_str() {
            "openapi" | "servers" | "security" | "tags" | "externalDocs" => {}
            "info" => downgrade_info(value, &pointer)?,
            "paths" => {
                for (path, item) in object_mut(value, &pointer)? {
                    downgrade_path_item(item, &child(&pointer, path))?;
                }
            }
            "components" => downgrade_components(value, &pointer)?,
            extension if extension.starts_with("x-") => {}
            other => return error(&pointer, format!("unknown top-level field `{other}`")),
        }
    }

    type_beside_nullable(&mut spec)?;
    assert_no_null_type(&spec, "")?;
    Ok(spec)
}

fn object_mut<'a>(value: &'a mut Value, pointer: &str) -> Result<&'a mut Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        _ => error(pointer, "expected a JSON object"),
    }
}

fn array_mut<'a>(value: &'a mut Value, pointer: &str) -> Result<&'a mut Vec<Value>> {
    match value {
        Value::Array(items) => Ok(items),
        _ => error(pointer, "expected a JSON array"),
    }
}

/// Applies `downgrade_each` to every value of the map found at `map[key]`, if any.
fn for_each_entry(
    map: &mut Map<String, Value>,
    key: &str,
    pointer: &str,
    mut downgrade_each: impl FnMut(&mut Value, &str) -> Result<()>,
) -> Result<()> {
    if let Some(value) = map.get_mut(key) {
        let pointer = child(pointer, key);
        for (name, entry) in object_mut(value, &pointer)? {
            downgrade_each(entry, &child(&pointer, name))?;
        }
    }
    Ok(())
}

fn downgrade_info(info: &mut Value, pointer: &str) -> Result<()> {
    let info = object_mut(info, pointer)?;
    // 3.1 additions; both are informational.
    info.remove("summary");
    if let Some(license) = info.get_mut("license") {
        let license = object_mut(license, &child(pointer, "license"))?;
        // An SPDX identifier names a license as precisely as its SPDX page
        // does; 3.0 has only the URL (and 3.1 forbids both at once).
        if let Some(Value::String(identifier)) = license.remove("identifier") {
            license.entry("url").or_insert_with(|| json!(format!("https://spdx.org/licenses/{identifier}.html")));
        }
    }
    Ok(())
}

/// 3.1 lets a Reference Object carry `summary`/`description` overriding the
/// target's; 3.0 allows nothing beside `$ref`. Returns true when `value` is a
/// reference (so the caller must not treat it as the referenced object).
fn downgrade_reference(value: &mut Value, pointer: &str) -> Result<bool> {
    let Some(map) = value.as_object_mut() else {
        return Ok(false);
    };
    if !map.contains_key("$ref") {
        return Ok(false);
    }
    map.remove("summary");
    map.remove("description");
    if let Some(extra) = map.keys().find(|key| *key != "$ref") {
        return error(&child(pointer, extra), "unexpected field beside `$ref`");
    }
    Ok(true)
}

fn downgrade_path_item(item: &mut Value, pointer: &str) -> Result<()> {
    let item = object_mut(item, pointer)?;
    for (key, value) in item.iter_mut() {
        let pointer = child(pointer, key);
        match key.as_str() {
            "$ref" | "summary" | "description" | "servers" => {}
            "parameters" => downgrade_parameter_list(value, &pointer)?,
            method if HTTP_METHODS.contains(&method) => downgrade_operation(value, &pointer)?,
            extension if extension.starts_with("x-") => {}
            other => return error(&pointer, format!("unknown path item field `{other}`")),
        }
    }
    Ok(())
}

fn downgrade_parameter_list(parameters: &mut Value, pointer: &str) -> Result<()> {
    for (index, parameter) in array_mut(parameters, pointer)?.iter_mut().enumerate() {
        downgrade_parameter(parameter, &child(pointer, &index.to_string()))?;
    }
    Ok(())
}

fn downgrade_operation(operation: &mut Value, pointer: &str) -> Result<()> {
    let operation = object_mut(operation, pointer)?;
    if !operation.contains_key("responses") {
        return error(pointer, "operation has no `responses` (optional in 3.1, required in 3.0)");
    }
    for (key, value) in operation.iter_mut() {
        let pointer = child(pointer, key);
        match key.as_str() {
            "tags" | "summary" | "description" | "externalDocs" | "operationId" | "deprecated" | "security"
            | "servers" => {}
            "parameters" => downgrade_parameter_list(value, &pointer)?,
            "requestBody" => downgrade_request_body(value, &pointer)?,
            "responses" => {
                for (status, response) in object_mut(value, &pointer)? {
                    downgrade_response(response, status, &child(&pointer, status))?;
                }
            }
            "callbacks" => downgrade_callbacks(value, &pointer)?,
            extension if extension.starts_with("x-") => {}
            other => return error(&pointer, format!("unknown operation field `{other}`")),
        }
    }
    Ok(())
}

fn downgrade_callbacks(callbacks: &mut Value, pointer: &str) -> Result<()> {
    for (name, callback) in object_mut(callbacks, pointer)? {
        let pointer = child(pointer, name);
        if downgrade_reference(callback, &pointer)? {
            continue;
        }
        for (expression, item) in object_mut(callback, &pointer)? {
            if !expression.starts_with("x-") {
                downgrade_path_item(item, &child(&pointer, expression))?;
            }
        }
    }
    Ok(())
}

fn downgrade_parameter(parameter: &mut Value, pointer: &str) -> Result<()> {
    if downgrade_reference(parameter, pointer)? {
        return Ok(());
    }
    let parameter = object_mut(parameter, pointer)?;
    if let Some(schema) = parameter.get_mut("schema") {
        downgrade_schema(schema, &child(pointer, "schema"))?;
        // A parameter or header value is text on the wire and cannot be JSON
        // null; "may be absent" is `required: false`. utoipa still emits
        // `type: [T, "null"]` for an `Option<T>` header, and progenitor turns
        // the resulting `nullable` into an `Option<Option<T>>` that does not
        // compile, so it is dropped here.
        if let Some(schema) = schema.as_object_mut() {
            schema.remove("nullable");
        }
    }
    // `examples` here is a map of Example Objects: valid 3.0, left alone.
    for_each_entry(parameter, "content", pointer, downgrade_media_type)
}

/// Headers are parameters without `name`/`in`.
fn downgrade_header(header: &mut Value, pointer: &str) -> Result<()> {
    downgrade_parameter(header, pointer)
}

fn downgrade_request_body(body: &mut Value, pointer: &str) -> Result<()> {
    if downgrade_reference(body, pointer)? {
        return Ok(());
    }
    let body = object_mut(body, pointer)?;
    for_each_entry(body, "content", pointer, downgrade_media_type)
}

fn downgrade_media_type(media_type: &mut Value, pointer: &str) -> Result<()> {
    let media_type = object_mut(media_type, pointer)?;
    if let Some(schema) = media_type.get_mut("schema") {
        downgrade_schema(schema, &child(pointer, "schema"))?;
    }
    // `examples` here is a map of Example Objects: valid 3.0, left alone.
    for_each_entry(media_type, "encoding", pointer, |encoding, pointer| {
        for_each_entry(object_mut(encoding, pointer)?, "headers", pointer, downgrade_header)
    })
}

fn downgrade_response(response: &mut Value, status: &str, pointer: &str) -> Result<()> {
    if downgrade_reference(response, pointer)? {
        return Ok(());
    }
    let response = object_mut(response, pointer)?;
    if !response.contains_key("description") {
        response.insert("description".into(), json!(reason_phrase(status)));
    }
    for_each_entry(response, "headers", pointer, downgrade_header)?;
    for_each_entry(response, "content", pointer, downgrade_media_type)
}

/// A description for a response that has none: the status code's reason
/// phrase (`404` → "Not Found"), or the class for `2XX`-style ranges.
fn reason_phrase(status: &str) -> String {
    if status == "default" {
        return "Default response".to_owned();
    }
    if let Some(phrase) = status
        .parse::<u16>()
        .ok()
        .and_then(|code| http::StatusCode::from_u16(code).ok())
        .and_then(|code| code.canonical_reason())
    {
        return phrase.to_owned();
    }
    match status.as_bytes().first() {
        Some(b'1') => "Informational".to_owned(),
        Some(b'2') => "Success".to_owned(),
        Some(b'3') => "Redirection".to_owned(),
        Some(b'4') => "Client error".to_owned(),
        Some(b'5') => "Server error".to_owned(),
        _ => format!("Response {status}"),
    }
}

fn downgrade_components(components: &mut Value, pointer: &str) -> Result<()> {
    let components = object_mut(components, pointer)?;
    if let Some(path_items) = components.get("pathItems") {
        if path_items.as_object().is_some_and(|items| !items.is_empty()) {
            return error(&child(pointer, "pathItems"), "components.pathItems has no 3.0 equivalent");
        }
        components.remove("pathItems");
    }
    for (key, value) in components.iter_mut() {
        let pointer = child(pointer, key);
        match key.as_str() {
            "schemas" => {
                for (name, schema) in object_mut(value, &pointer)? {
                    downgrade_schema(schema, &child(&pointer, name))?;
                }
            }
            "responses" => {
                for (name, response) in object_mut(value, &pointer)? {
                    // A reusable response has no status of its own.
                    downgrade_response(response, "default", &child(&pointer, name))?;
                }
            }
            "parameters" => {
                for (name, parameter) in object_mut(value, &pointer)? {
                    downgrade_parameter(parameter, &child(&pointer, name))?;
                }
            }
            "requestBodies" => {
                for (name, body) in object_mut(value, &pointer)? {
                    downgrade_request_body(body, &child(&pointer, name))?;
                }
            }
            "headers" => {
                for (name, header) in object_mut(value, &pointer)? {
                    downgrade_header(header, &child(&pointer, name))?;
                }
            }
            "callbacks" => downgrade_callbacks(value, &pointer)?,
            "securitySchemes" => {
                for (name, scheme) in object_mut(value, &pointer)? {
                    if scheme.get("type").and_then(Value::as_str) == Some("mutualTLS") {
                        return error(&child(&pointer, name), "`mutualTLS` security schemes are 3.1-only");
                    }
                }
            }
            "examples" | "links" => {}
            extension if extension.starts_with("x-") => {}
            other => return error(&pointer, format!("unknown components field `{other}`")),
        }
    }
    Ok(())
}

/// Whether `value` is a schema that admits only `null`.
fn is_null_schema(value: &Value) -> bool {
    match value.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => !types.is_empty() && types.iter().all(|t| t == "null"),
        _ => false,
    }
}

fn downgrade_schema(schema: &mut Value, pointer: &str) -> Result<()> {
    match schema {
        // `true` accepts any instance, as does the empty schema.
        Value::Bool(true) => *schema = json!({}),
        Value::Bool(false) => return error(pointer, "the `false` schema has no 3.0 equivalent"),
        Value::Object(_) => {}
        _ => return error(pointer, "expected a schema object"),
    }
    let map = schema.as_object_mut().expect("checked above");

    rewrite_null_alternatives(map, pointer)?;
    wrap_ref_with_siblings(map);
    rewrite_type_array(map, pointer)?;
    rewrite_const(map, pointer)?;
    rewrite_examples(map, pointer)?;
    rewrite_exclusive_bound(map, pointer, "exclusiveMinimum", "minimum", |inclusive, exclusive| inclusive > exclusive)?;
    rewrite_exclusive_bound(map, pointer, "exclusiveMaximum", "maximum", |inclusive, exclusive| inclusive < exclusive)?;
    rewrite_format(map);
    rewrite_content_encoding(map);
    for keyword in SCHEMA_KEYWORDS_DROPPED {
        map.remove(*keyword);
    }
    if let Some(unknown) = map.keys().find(|key| !key.starts_with("x-") && !SCHEMA_KEYWORDS_3_0.contains(&key.as_str()))
    {
        return error(&child(pointer, unknown), format!("schema keyword `{unknown}` has no 3.0 equivalent"));
    }

    // Subschemas.
    for keyword in ["properties"] {
        if let Some(properties) = map.get_mut(keyword) {
            let pointer = child(pointer, keyword);
            for (name, property) in object_mut(properties, &pointer)? {
                downgrade_schema(property, &child(&pointer, name))?;
            }
        }
    }
    for keyword in ["allOf", "oneOf", "anyOf"] {
        if let Some(members) = map.get_mut(keyword) {
            let pointer = child(pointer, keyword);
            for (index, member) in array_mut(members, &pointer)?.iter_mut().enumerate() {
                downgrade_schema(member, &child(&pointer, &index.to_string()))?;
            }
        }
    }
    if let Some(items) = map.get_mut("items") {
        if items.is_array() {
            return error(&child(pointer, "items"), "array-form `items` (tuple) has no 3.0 equivalent");
        }
        downgrade_schema(items, &child(pointer, "items"))?;
    }
    if let Some(not) = map.get_mut("not") {
        downgrade_schema(not, &child(pointer, "not"))?;
    }
    // `additionalProperties: true/false` is valid 3.0; only a schema needs work.
    if let Some(additional @ Value::Object(_)) = map.get_mut("additionalProperties") {
        downgrade_schema(additional, &child(pointer, "additionalProperties"))?;
    }
    Ok(())
}

/// `oneOf`/`anyOf: [X, {type: null}]` → `allOf: [X], nullable: true`;
/// `oneOf: [X, Y, {type: null}]` → `oneOf: [X, Y], nullable: true`.
fn rewrite_null_alternatives(map: &mut Map<String, Value>, pointer: &str) -> Result<()> {
    for keyword in ["oneOf", "anyOf"] {
        let Some(Value::Array(members)) = map.get(keyword) else {
            continue;
        };
        if !members.iter().any(is_null_schema) {
            continue;
        }
        let mut remaining: Vec<Value> = members.iter().filter(|member| !is_null_schema(member)).cloned().collect();
        map.insert("nullable".into(), json!(true));
        match remaining.len() {
            0 => {
                return error(&child(pointer, keyword), "only `null` alternatives: no 3.0 equivalent");
            }
            1 => {
                map.remove(keyword);
                let only = remaining.pop().expect("one member");
                // `nullable` beside a bare `$ref` is ignored by 3.0 readers, so
                // the member always goes under `allOf`, beside any existing ones.
                match map.entry("allOf").or_insert_with(|| json!([])) {
                    Value::Array(all_of) => all_of.push(only),
                    _ => return error(&child(pointer, "allOf"), "expected a JSON array"),
                }
            }
            _ => {
                map.insert(keyword.into(), Value::Array(remaining));
            }
        }
    }
    Ok(())
}

/// In 3.0 a `$ref` replaces its whole object, so siblings (a description, a
/// default, `nullable`) would be ignored; move the reference under `allOf`.
fn wrap_ref_with_siblings(map: &mut Map<String, Value>) {
    if map.len() < 2 {
        return;
    }
    let Some(reference) = map.remove("$ref") else {
        return;
    };
    let wrapped = json!({ "$ref": reference });
    match map.get_mut("allOf") {
        Some(Value::Array(all_of)) => all_of.insert(0, wrapped),
        _ => {
            map.insert("allOf".into(), json!([wrapped]));
        }
    }
}

fn rewrite_type_array(map: &mut Map<String, Value>, pointer: &str) -> Result<()> {
    let pointer = child(pointer, "type");
    match map.get("type") {
        Some(Value::String(t)) if t == "null" => {
            error(&pointer, "`type: \"null\"` has no 3.0 equivalent outside a oneOf/anyOf alternative")
        }
        Some(Value::Array(types)) => {
            let nullable = types.iter().any(|t| t == "null");
            let others: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            match others.as_slice() {
                [] => error(&pointer, "`type: [\"null\"]` has no 3.0 equivalent outside a oneOf/anyOf alternative"),
                [only] => {
                    map.insert("type".into(), only.clone());
                    if nullable {
                        map.insert("nullable".into(), json!(true));
                    }
                    Ok(())
                }
                _ => error(
                    &pointer,
                    format!("multi-type {} has no 3.0 equivalent; use oneOf", Value::Array(types.clone())),
                ),
            }
        }
        _ => Ok(()),
    }
}

fn rewrite_const(map: &mut Map<String, Value>, pointer: &str) -> Result<()> {
    let Some(value) = map.remove("const") else {
        return Ok(());
    };
    if map.contains_key("enum") {
        return error(&child(pointer, "const"), "both `const` and `enum`");
    }
    map.insert("enum".into(), json!([value]));
    Ok(())
}

/// Schema `examples` (an array of values, 3.1) → `example` (one value, 3.0).
fn rewrite_examples(map: &mut Map<String, Value>, pointer: &str) -> Result<()> {
    let Some(examples) = map.remove("examples") else {
        return Ok(());
    };
    let Value::Array(examples) = examples else {
        return error(&child(pointer, "examples"), "schema `examples` must be an array");
    };
    if let Some(first) = examples.into_iter().next() {
        map.entry("example").or_insert(first);
    }
    Ok(())
}

/// Numeric `exclusiveMinimum: n` (3.1) → `minimum: n, exclusiveMinimum: true`
/// (3.0), unless an inclusive bound that is already stricter exists.
fn rewrite_exclusive_bound(
    map: &mut Map<String, Value>,
    pointer: &str,
    exclusive_key: &str,
    inclusive_key: &str,
    inclusive_is_stricter: fn(f64, f64) -> bool,
) -> Result<()> {
    let Some(Value::Number(exclusive)) = map.get(exclusive_key).cloned() else {
        return Ok(()); // absent, or already the 3.0 boolean form
    };
    let inclusive = match map.get(inclusive_key) {
        None => None,
        Some(Value::Number(inclusive)) => inclusive.as_f64(),
        Some(_) => return error(&child(pointer, inclusive_key), "expected a number"),
    };
    match inclusive {
        Some(inclusive) if inclusive_is_stricter(inclusive, exclusive.as_f64().unwrap_or(f64::NAN)) => {
            map.remove(exclusive_key);
        }
        _ => {
            map.insert(inclusive_key.into(), Value::Number(exclusive));
            map.insert(exclusive_key.into(), json!(true));
        }
    }
    Ok(())
}

/// utoipa's `non_strict_integers` formats are kebab-cased (`u-int32`); typify
/// knows `uint32`.
fn rewrite_format(map: &mut Map<String, Value>) {
    if let Some(Value::String(format)) = map.get_mut("format")
        && let Some(bits) = format.strip_prefix("u-int")
    {
        *format = format!("uint{bits}");
    }
}

/// `contentEncoding: base64` is what 3.0 spells `format: byte`; other
/// encodings are annotations with no 3.0 form.
fn rewrite_content_encoding(map: &mut Map<String, Value>) {
    if let Some(encoding) = map.remove("contentEncoding")
        && encoding == "base64"
        && !map.contains_key("format")
    {
        map.insert("format".into(), json!("byte"));
    }
}

/// Gives every `nullable: true` without a `type` the type its members agree
/// on (see the module doc). Walks the whole document as
/// [`assert_no_null_type`] does, skipping literal data.
fn type_beside_nullable(spec: &mut Value) -> Result<()> {
    let components = spec.pointer("/components/schemas").and_then(Value::as_object).cloned().unwrap_or_default();
    add_nullable_types(spec, "", false, &components)
}

fn add_nullable_types(
    value: &mut Value,
    pointer: &str,
    is_name_map: bool,
    components: &Map<String, Value>,
) -> Result<()> {
    match value {
        Value::Object(map) => {
            if !is_name_map && map.get("nullable") == Some(&Value::Bool(true)) && !map.contains_key("type") {
                let Some(inferred) = inferred_type(&Value::Object(map.clone()), components, 0) else {
                    return error(
                        &child(pointer, "nullable"),
                        "`nullable` needs a `type` beside it in 3.0, and its members agree on none",
                    );
                };
                let position = map.keys().position(|key| key == "nullable").unwrap_or(0);
                map.shift_insert(position, "type".to_owned(), json!(inferred));
            }
            for (key, child_value) in map.iter_mut() {
                if !is_name_map
                    && LITERAL_KEYS.contains(&key.as_str())
                    && !(key == "examples" && child_value.is_object())
                {
                    continue;
                }
                let child_is_name_map = !is_name_map && NAME_MAP_KEYS.contains(&key.as_str());
                add_nullable_types(child_value, &child(pointer, key), child_is_name_map, components)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                add_nullable_types(item, &child(pointer, &index.to_string()), false, components)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The one `type` an instance of `schema` can have (besides null): its own,
/// else the one its `$ref` target, its `allOf` members or all of its
/// `oneOf`/`anyOf` members agree on. `None` when there is none or they
/// disagree. Reference cycles end at a fixed depth.
fn inferred_type(schema: &Value, components: &Map<String, Value>, depth: usize) -> Option<String> {
    if depth > 32 {
        return None;
    }
    if let Some(Value::String(t)) = schema.get("type") {
        return Some(t.clone());
    }
    if let Some(Value::String(reference)) = schema.get("$ref") {
        let target = components.get(reference.strip_prefix("#/components/schemas/")?)?;
        return inferred_type(target, components, depth + 1);
    }
    let agreed = |members: &[Value], all_must_know: bool| -> Option<String> {
        let mut agreed: Option<String> = None;
        for member in members {
            match (inferred_type(member, components, depth + 1), &agreed) {
                (Some(t), Some(seen)) if t != *seen => return None,
                (Some(t), None) => agreed = Some(t),
                (None, _) if all_must_know => return None,
                _ => {}
            }
        }
        agreed
    };
    // Every `allOf` member constrains the instance, so one that knows its
    // type is enough; a `oneOf`/`anyOf` instance matches any one member, so
    // all of them must name the same type.
    if let Some(Value::Array(members)) = schema.get("allOf")
        && let Some(t) = agreed(members, false)
    {
        return Some(t);
    }
    for keyword in ["oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = schema.get(keyword)
            && let Some(t) = agreed(members, true)
        {
            return Some(t);
        }
    }
    None
}

/// Keys whose value is a map from user-chosen names (property names, status
/// codes, media types, …) to objects: a child named `default` or `example`
/// there is an object, not a literal value.
const NAME_MAP_KEYS: &[&str] = &[
    "properties",
    "schemas",
    "responses",
    "parameters",
    "requestBodies",
    "headers",
    "content",
    "encoding",
    "paths",
    "callbacks",
    "securitySchemes",
    "links",
    "examples",
    "webhooks",
];

/// Keys whose value is literal data (not schemas) when they appear in an
/// ordinary object.
const LITERAL_KEYS: &[&str] = &["example", "examples", "default", "enum", "value"];

/// progenitor panics (rather than erroring) on `{type: "null"}`; make sure
/// none is left anywhere, even in places the positional walk does not visit.
/// Literal data (`example`, `default`, `enum`, …) is skipped.
fn assert_no_null_type(value: &Value, pointer: &str) -> Result<()> {
    check_null_type(value, pointer, false)
}

fn check_null_type(value: &Value, pointer: &str, is_name_map: bool) -> Result<()> {
    match value {
        Value::Object(map) => {
            if !is_name_map {
                let null_type = match map.get("type") {
                    Some(Value::String(t)) => t == "null",
                    Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
                    _ => false,
                };
                if null_type {
                    return error(&child(pointer, "type"), "a `null` type survived the downgrade");
                }
            }
            for (key, child_value) in map {
                if !is_name_map
                    && LITERAL_KEYS.contains(&key.as_str())
                    && !(key == "examples" && child_value.is_object())
                {
                    continue;
                }
                let child_is_name_map = !is_name_map && NAME_MAP_KEYS.contains(&key.as_str());
                check_null_type(child_value, &child(pointer, key), child_is_name_map)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_null_type(item, &child(pointer, &index.to_string()), false)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{DowngradeError, downgrade};

    /// A minimal 3.1 document whose only schema is `schema`.
    fn document_with_schema(schema: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": {},
            "components": { "schemas": { "S": schema } }
        })
    }

    fn downgrade_schema(schema: Value) -> Value {
        let document = downgrade(document_with_schema(schema)).expect("downgrade succeeds");
        document["components"]["schemas"]["S"].clone()
    }

    /// `schema` downgraded beside other component schemas its `$ref`s name.
    fn downgrade_schema_with(schema: Value, others: Value) -> Value {
        let mut document = document_with_schema(schema);
        for (name, other) in others.as_object().expect("a map of schemas") {
            document["components"]["schemas"][name] = other.clone();
        }
        let document = downgrade(document).expect("downgrade succeeds");
        document["components"]["schemas"]["S"].clone()
    }

    fn downgrade_schema_error(schema: Value) -> DowngradeError {
        downgrade(document_with_schema(schema)).expect_err("downgrade fails")
    }

    #[test]
    fn sets_version_and_rejects_other_versions() {
        let document = downgrade(document_with_schema(json!({}))).unwrap();
        assert_eq!(document["openapi"], "3.0.3");

        let mut not_3_1 = document_with_schema(json!({}));
        not_3_1["openapi"] = json!("3.0.3");
        assert_eq!(downgrade(not_3_1).unwrap_err().pointer, "/openapi");
    }

    #[test]
    fn nullable_type_array_becomes_nullable() {
        assert_eq!(
            downgrade_schema(json!({ "type": ["string", "null"], "format": "date-time" })),
            json!({ "type": "string", "format": "date-time", "nullable": true })
        );
        assert_eq!(downgrade_schema(json!({ "type": ["integer"] })), json!({ "type": "integer" }));
    }

    #[test]
    fn null_only_and_multi_type_arrays_are_errors() {
        assert_eq!(downgrade_schema_error(json!({ "type": ["null"] })).pointer, "/components/schemas/S/type");
        assert_eq!(downgrade_schema_error(json!({ "type": "null" })).pointer, "/components/schemas/S/type");
        let error = downgrade_schema_error(json!({
            "type": "object",
            "properties": { "a/b": { "type": ["string", "integer", "null"] } }
        }));
        assert_eq!(error.pointer, "/components/schemas/S/properties/a~1b/type");
        assert!(error.message.contains("multi-type"), "{error}");
    }

    #[test]
    fn one_of_ref_or_null_becomes_nullable_all_of() {
        assert_eq!(
            downgrade_schema_with(
                json!({
                    "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/RateLimit" }],
                    "description": "the limit"
                }),
                json!({ "RateLimit": { "type": "object" } })
            ),
            json!({
                "description": "the limit",
                "type": "object",
                "nullable": true,
                "allOf": [{ "$ref": "#/components/schemas/RateLimit" }]
            })
        );
    }

    #[test]
    fn nullable_gets_the_type_its_members_agree_on() {
        // Through a chain of references and wrappers, and the 3.1 type-array form.
        let others = json!({
            "Role": { "type": ["string", "null"], "enum": ["owner", "admin"] },
            "Alias": { "description": "the role", "allOf": [{ "$ref": "#/components/schemas/Role" }] }
        });
        assert_eq!(
            downgrade_schema_with(
                json!({ "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/Alias" }] }),
                others
            )["type"],
            "string"
        );
        // Every alternative of an anyOf must agree; then they do.
        let others = json!({ "A": { "type": "object" }, "B": { "type": "object" } });
        assert_eq!(
            downgrade_schema_with(
                json!({ "anyOf": [{ "$ref": "#/components/schemas/A" }, { "type": "null" }, { "$ref": "#/components/schemas/B" }] }),
                others
            )["type"],
            "object"
        );
    }

    #[test]
    fn nullable_without_an_agreed_type_is_an_error() {
        let mut document = document_with_schema(json!({
            "anyOf": [{ "$ref": "#/components/schemas/A" }, { "type": "null" }, { "type": "string" }]
        }));
        document["components"]["schemas"]["A"] = json!({ "type": "object" });
        assert_eq!(downgrade(document).unwrap_err().pointer, "/components/schemas/S/nullable");
        // A reference to nothing known has no type either.
        assert_eq!(
            downgrade_schema_error(
                json!({ "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/Missing" }] })
            )
            .pointer,
            "/components/schemas/S/nullable"
        );
    }

    #[test]
    fn any_of_with_several_remaining_keeps_them_and_is_nullable() {
        assert_eq!(
            downgrade_schema_with(
                json!({
                    "anyOf": [{ "$ref": "#/components/schemas/A" }, { "type": "null" }, { "$ref": "#/components/schemas/B" }]
                }),
                json!({ "A": { "type": "object" }, "B": { "type": "object" } })
            ),
            json!({
                "anyOf": [{ "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" }],
                "type": "object",
                "nullable": true
            })
        );
    }

    #[test]
    fn null_alternative_members_are_rewritten_too() {
        // The remaining member is itself 3.1 and must still be downgraded.
        assert_eq!(
            downgrade_schema(
                json!({ "oneOf": [{ "type": ["integer", "null"], "format": "u-int32" }, { "type": "null" }] })
            ),
            json!({
                "type": "integer",
                "nullable": true,
                "allOf": [{ "type": "integer", "format": "uint32", "nullable": true }]
            })
        );
    }

    #[test]
    fn only_null_alternatives_is_an_error() {
        assert_eq!(
            downgrade_schema_error(json!({ "oneOf": [{ "type": "null" }] })).pointer,
            "/components/schemas/S/oneOf"
        );
    }

    #[test]
    fn ref_with_siblings_is_wrapped_in_all_of() {
        assert_eq!(
            downgrade_schema(json!({ "$ref": "#/components/schemas/Meta", "description": "free-form" })),
            json!({ "description": "free-form", "allOf": [{ "$ref": "#/components/schemas/Meta" }] })
        );
        // A bare $ref stays as it is.
        assert_eq!(
            downgrade_schema(json!({ "$ref": "#/components/schemas/M" })),
            json!({ "$ref": "#/components/schemas/M" })
        );
    }

    #[test]
    fn schema_examples_become_example_but_media_type_examples_stay() {
        assert_eq!(
            downgrade_schema(json!({ "type": "string", "examples": ["kw_live_abc1", "other"] })),
            json!({ "type": "string", "example": "kw_live_abc1" })
        );
        let media_examples = json!({ "first": { "summary": "s", "value": { "type": "null" } } });
        let document = downgrade(json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": { "/x": { "get": {
                "operationId": "x",
                "parameters": [{ "name": "q", "in": "query", "schema": { "type": "string" }, "examples": media_examples }],
                "responses": { "200": { "description": "ok", "content": { "application/json": {
                    "schema": { "type": "string", "examples": ["a"] },
                    "examples": media_examples
                } } } }
            } } }
        }))
        .unwrap();
        let operation = &document["paths"]["/x"]["get"];
        assert_eq!(operation["parameters"][0]["examples"], media_examples);
        let media_type = &operation["responses"]["200"]["content"]["application/json"];
        assert_eq!(media_type["examples"], media_examples);
        assert_eq!(media_type["schema"], json!({ "type": "string", "example": "a" }));
    }

    #[test]
    fn const_becomes_single_value_enum() {
        assert_eq!(downgrade_schema(json!({ "const": "VALID" })), json!({ "enum": ["VALID"] }));
        assert_eq!(
            downgrade_schema_error(json!({ "const": 1, "enum": [1, 2] })).pointer,
            "/components/schemas/S/const"
        );
    }

    #[test]
    fn numeric_exclusive_bounds_become_boolean_form() {
        assert_eq!(
            downgrade_schema(json!({ "type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100 })),
            json!({ "type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 100, "exclusiveMaximum": true })
        );
        // An inclusive bound that is already stricter wins; a looser one is replaced.
        assert_eq!(
            downgrade_schema(
                json!({ "type": "integer", "minimum": 5, "exclusiveMinimum": 0, "maximum": 200, "exclusiveMaximum": 100 })
            ),
            json!({ "type": "integer", "minimum": 5, "maximum": 100, "exclusiveMaximum": true })
        );
    }

    #[test]
    fn non_strict_integer_formats_are_renamed() {
        for (utoipa, typify) in
            [("u-int8", "uint8"), ("u-int16", "uint16"), ("u-int32", "uint32"), ("u-int64", "uint64")]
        {
            assert_eq!(
                downgrade_schema(json!({ "type": "integer", "format": utoipa, "minimum": 0 })),
                json!({ "type": "integer", "format": typify, "minimum": 0 })
            );
        }
        assert_eq!(downgrade_schema(json!({ "type": "integer", "format": "int8" }))["format"], "int8");
    }

    #[test]
    fn annotation_only_3_1_keywords_are_dropped() {
        assert_eq!(
            downgrade_schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$comment": "c",
                "type": "object",
                "propertyNames": { "pattern": "^[a-z]+$" },
                "unevaluatedProperties": false,
                "dependentRequired": { "a": ["b"] },
                "properties": { "blob": { "type": "string", "contentEncoding": "base64", "contentMediaType": "image/png" } }
            })),
            json!({ "type": "object", "properties": { "blob": { "type": "string", "format": "byte" } } })
        );
    }

    #[test]
    fn meaning_changing_3_1_keywords_are_errors() {
        for (schema, pointer) in [
            (json!({ "type": "array", "prefixItems": [{ "type": "string" }] }), "/components/schemas/S/prefixItems"),
            (json!({ "if": { "type": "string" }, "then": {} }), "/components/schemas/S/if"),
            (json!({ "type": "object", "patternProperties": { "^x": {} } }), "/components/schemas/S/patternProperties"),
            (json!({ "$defs": { "A": {} } }), "/components/schemas/S/$defs"),
            (json!({ "type": "array", "items": false }), "/components/schemas/S/items"),
        ] {
            assert_eq!(downgrade_schema_error(schema).pointer, pointer);
        }
    }

    #[test]
    fn boolean_true_schema_becomes_empty_schema() {
        assert_eq!(
            downgrade_schema(json!({ "type": "array", "items": true })),
            json!({ "type": "array", "items": {} })
        );
        // additionalProperties booleans are valid 3.0 and stay.
        assert_eq!(
            downgrade_schema(json!({ "type": "object", "additionalProperties": false })),
            json!({ "type": "object", "additionalProperties": false })
        );
    }

    #[test]
    fn document_level_3_1_fields_are_dropped() {
        let document = downgrade(json!({
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
            "info": { "title": "t", "summary": "s", "version": "1", "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" } },
            "webhooks": { "rotated": { "post": { "responses": { "200": { "description": "ok" } } } } },
            "components": { "pathItems": {} }
        }))
        .unwrap();
        assert_eq!(
            document,
            json!({
                "openapi": "3.0.3",
                "info": {
                    "title": "t",
                    "version": "1",
                    "license": { "name": "Apache-2.0", "url": "https://spdx.org/licenses/Apache-2.0.html" }
                },
                "components": {},
                "paths": {}
            })
        );
    }

    #[test]
    fn missing_response_descriptions_get_the_reason_phrase() {
        let document = downgrade(json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": { "/k/{id}": { "delete": {
                "operationId": "revoke",
                "responses": { "204": {}, "404": { "description": "gone" }, "5XX": {}, "default": {}, "299": {} }
            } } }
        }))
        .unwrap();
        let responses = &document["paths"]["/k/{id}"]["delete"]["responses"];
        assert_eq!(responses["204"]["description"], "No Content");
        assert_eq!(responses["404"]["description"], "gone");
        assert_eq!(responses["5XX"]["description"], "Server error");
        assert_eq!(responses["default"]["description"], "Default response");
        assert_eq!(responses["299"]["description"], "Success");
    }

    #[test]
    fn parameters_and_headers_are_never_nullable() {
        let document = downgrade(json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": { "/x": { "post": {
                "operationId": "x",
                "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": ["string", "null"] } }],
                "responses": { "200": {
                    "description": "ok",
                    "headers": { "X-Next-Cursor": { "schema": { "type": ["string", "null"] } } }
                } }
            } } }
        }))
        .unwrap();
        let operation = &document["paths"]["/x"]["post"];
        assert_eq!(operation["parameters"][0]["schema"], json!({ "type": "string" }));
        assert_eq!(operation["responses"]["200"]["headers"]["X-Next-Cursor"]["schema"], json!({ "type": "string" }));
    }

    #[test]
    fn reference_object_siblings_are_dropped() {
        let document = downgrade(json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": { "/x": { "get": {
                "operationId": "x",
                "responses": { "404": { "$ref": "#/components/responses/NotFound", "description": "override" } }
            } } },
            "components": { "responses": { "NotFound": { "description": "not found" } } }
        }))
        .unwrap();
        assert_eq!(
            document["paths"]["/x"]["get"]["responses"]["404"],
            json!({ "$ref": "#/components/responses/NotFound" })
        );
    }

    #[test]
    fn errors_name_the_pointer_in_path_positions() {
        let error = downgrade(json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": { "/v1/api-keys/{id}": { "get": {
                "operationId": "get",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": ["string", "integer"] } }],
                "responses": { "200": { "description": "ok" } }
            } } }
        }))
        .unwrap_err();
        assert_eq!(error.pointer, "/paths/~1v1~1api-keys~1{id}/get/parameters/0/schema/type");
        assert!(error.to_string().contains("/paths/~1v1~1api-keys~1{id}/get/parameters/0/schema/type"));
    }

    #[test]
    fn final_pass_skips_literals_but_not_schemas_named_like_them() {
        // A property literally named `default` is a schema and is checked.
        let schema = downgrade_schema(json!({
            "type": "object",
            "properties": { "default": { "type": ["boolean", "null"] } },
            "example": { "type": "null" }
        }));
        assert_eq!(schema["properties"]["default"], json!({ "type": "boolean", "nullable": true }));
        assert_eq!(schema["example"], json!({ "type": "null" }));
        // Extensions are not walked positionally; the final pass still finds a null type.
        let mut document = document_with_schema(json!({}));
        document["x-extra"] = json!({ "nested": { "type": ["null"] } });
        assert_eq!(downgrade(document).unwrap_err().pointer, "/x-extra/nested/type");
    }

    /// A 3.1 spec shaped like what utoipa emits for keyward (see `sample`),
    /// downgraded, must parse with openapiv3 and generate with progenitor.
    #[test]
    fn downgraded_utoipa_spec_parses_and_generates() {
        let server_spec = serde_json::to_value(crate::sample::openapi()).unwrap();
        let downgraded = downgrade(server_spec).unwrap();
        let parsed: openapiv3::OpenAPI = serde_json::from_value(downgraded.clone()).unwrap();
        assert_eq!(parsed.openapi, "3.0.3");
        let client = crate::codegen::generate(&downgraded, &[]).unwrap();
        assert!(client.contains("pub struct ApiKey"), "{client}");
        assert!(client.contains("rate_limit: ::std::option::Option<RateLimit>"), "{client}");
    }

    /// The same for the real server spec, when it exists.
    #[test]
    fn downgraded_server_spec_parses_and_generates() {
        let specs = crate::openapi::generate().unwrap();
        let _: openapiv3::OpenAPI = serde_json::from_value(specs.v3_0.clone()).unwrap();
        crate::codegen::generate(&specs.v3_0, &[]).unwrap();
    }
}
