//! The operation model every SDK surface is generated from, read from
//! `openapi/keyward.json` (the 3.1 document the server emits).
//!
//! One rule names everything (docs/sdk-contract.md#naming):
//! - an operation's **resource** is its tag (`api-keys` → `api_keys`,
//!   `apiKeys`, `ApiKeys`);
//! - its **method** is its `operationId` without the resource's noun, plural
//!   or singular (`create_api_key` in `api-keys` → `create`,
//!   `rotate_webhook_endpoint_secret` in `webhook-endpoints` →
//!   `rotate_secret`);
//! - a paginated list also gets `list_page` (one page);
//! - operations that do not take the client's credentials (`security: []`:
//!   health probes, GitHub's leak reports) are not part of any SDK.
//!
//! Operations keep the spec's order, which is path order: what the server
//! declares first comes first in every SDK.

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// Everything the SDK generators need from the spec.
#[derive(Debug)]
pub struct Model {
    pub resources: Vec<Resource>,
    /// `components.schemas`, verbatim.
    pub schemas: Map<String, Value>,
}

/// One tag: a handle in every SDK (`client.api_keys()`, `client.api_keys`,
/// `client.apiKeys`).
#[derive(Debug)]
pub struct Resource {
    /// The tag as written in the spec, e.g. `api-keys`.
    pub tag: String,
    /// snake_case, e.g. `api_keys`.
    pub name: String,
    pub description: String,
    pub operations: Vec<Operation>,
}

#[derive(Debug)]
pub struct Operation {
    /// e.g. `create_api_key`; the progenitor builder method has this name.
    pub operation_id: String,
    /// snake_case method name in its resource, e.g. `create`.
    pub method: String,
    pub http_method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    /// In the order they appear in the path.
    pub path_params: Vec<Param>,
    pub query_params: Vec<Param>,
    pub body: Option<Body>,
    pub response: Response,
    pub pagination: Option<Pagination>,
    /// The operation takes an `Idempotency-Key` header (every mutating POST).
    pub idempotent: bool,
}

#[derive(Debug)]
pub struct Param {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub schema: Value,
}

#[derive(Debug)]
pub struct Body {
    /// The request schema's component name, e.g. `CreateApiKeyRequest`.
    pub schema: String,
    /// An optional body (rotate's) may be left out entirely.
    pub required: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Response {
    /// 204, or 202 without a body.
    Empty,
    /// A component schema.
    Schema(String),
    /// A JSON array of a component schema (the lists).
    Array(String),
}

#[derive(Debug)]
pub struct Pagination {
    /// The query parameter that takes the previous page's cursor.
    pub cursor_param: String,
    /// The component schema of one item.
    pub item: String,
    pub next_cursor: NextCursor,
}

#[derive(Debug, PartialEq, Eq)]
pub enum NextCursor {
    /// The body is the array of items; the cursor is in `X-Next-Cursor`.
    Header,
    /// The body is an object holding the items and the cursor.
    Field { items: String, cursor: String },
}

/// The query parameters that name a page's cursor, in the order tried.
const CURSOR_PARAMS: [&str; 2] = ["starting_after", "cursor"];

impl Model {
    pub fn from_spec(spec: &Value) -> anyhow::Result<Model> {
        let schemas = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .context("the spec has no components.schemas")?;
        let tag_descriptions: Vec<(String, String)> = spec
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tag| {
                let name = tag.get("name")?.as_str()?.to_string();
                Some((name, text(tag, "description")))
            })
            .collect();
        let mut resources: Vec<Resource> = Vec::new();
        let paths = spec.get("paths").and_then(Value::as_object).context("the spec has no paths")?;
        for (path, item) in paths {
            for (http_method, operation) in item.as_object().into_iter().flatten() {
                if !["get", "post", "put", "patch", "delete"].contains(&http_method.as_str()) {
                    continue;
                }
                if operation.get("security").and_then(Value::as_array).is_some_and(Vec::is_empty) {
                    continue;
                }
                let operation_id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .with_context(|| format!("{http_method} {path} has no operationId"))?;
                let tag = match operation.get("tags").and_then(Value::as_array).map(Vec::as_slice) {
                    Some([Value::String(tag)]) => tag.clone(),
                    _ => bail!("{operation_id} must have exactly one tag: its SDK resource"),
                };
                let resource = match resources.iter().position(|resource| resource.tag == tag) {
                    Some(index) => &mut resources[index],
                    None => {
                        let description = tag_descriptions
                            .iter()
                            .find(|(name, _)| *name == tag)
                            .map(|(_, description)| description.clone())
                            .unwrap_or_default();
                        resources.push(Resource {
                            name: tag.replace('-', "_"),
                            tag: tag.clone(),
                            description,
                            operations: Vec::new(),
                        });
                        resources.last_mut().expect("just pushed")
                    }
                };
                let parsed = parse_operation(spec, &resource.name, path, http_method, operation_id, operation)
                    .with_context(|| format!("operation {operation_id}"))?;
                if resource.operations.iter().any(|other| other.method == parsed.method) {
                    bail!("two operations of `{tag}` would both be named `{}`", parsed.method);
                }
                resource.operations.push(parsed);
            }
        }
        Ok(Model { resources, schemas })
    }

    /// The fields of `schema` (following `allOf`) that hold a secret shown
    /// once (`format: password`): SDKs wrap them so they never print.
    pub fn secret_fields(&self, schema: &str) -> Vec<String> {
        let mut fields = Vec::new();
        if let Some(schema) = self.schemas.get(schema) {
            self.collect_secret_fields(schema, &mut fields);
        }
        fields
    }

    fn collect_secret_fields(&self, schema: &Value, fields: &mut Vec<String>) {
        if let Some(name) = ref_name(schema) {
            if let Some(target) = self.schemas.get(name) {
                self.collect_secret_fields(target, fields);
            }
            return;
        }
        for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.collect_secret_fields(part, fields);
        }
        for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            if property.get("format").and_then(Value::as_str) == Some("password") {
                fields.push(name.clone());
            }
        }
    }

    /// The (schema, field) pairs that `null` clears: the nullable properties
    /// of PATCH bodies (`UpdateApiKeyRequest.expires_at`, …). Everywhere
    /// else an optional field is simply left out.
    pub fn clearable_fields(&self) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for (_, operation) in self.operations() {
            let Some(body) = operation.body.as_ref().filter(|_| operation.http_method == "PATCH") else { continue };
            let Some(properties) = self.schemas.get(&body.schema).and_then(|schema| schema.get("properties")) else {
                continue;
            };
            for (name, property) in properties.as_object().into_iter().flatten() {
                if is_nullable(property) && !fields.contains(&(body.schema.clone(), name.clone())) {
                    fields.push((body.schema.clone(), name.clone()));
                }
            }
        }
        fields
    }

    pub fn operations(&self) -> impl Iterator<Item = (&Resource, &Operation)> {
        self.resources
            .iter()
            .flat_map(|resource| resource.operations.iter().map(move |operation| (resource, operation)))
    }
}

fn parse_operation(
    spec: &Value,
    resource: &str,
    path: &str,
    http_method: &str,
    operation_id: &str,
    operation: &Value,
) -> anyhow::Result<Operation> {
    let mut path_params = Vec::new();
    let mut query_params = Vec::new();
    let mut idempotent = false;
    for param in operation.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        let name = param.get("name").and_then(Value::as_str).context("a parameter without a name")?;
        let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
        let parsed = Param {
            name: name.to_string(),
            description: text(param, "description"),
            required: param.get("required").and_then(Value::as_bool).unwrap_or(false),
            schema: param.get("schema").cloned().unwrap_or(Value::Null),
        };
        match location {
            "path" => path_params.push(parsed),
            "query" => query_params.push(parsed),
            "header" if name.eq_ignore_ascii_case("idempotency-key") => idempotent = true,
            other => bail!("parameter `{name}` in {other}: the SDK generators know no such parameter"),
        }
    }
    // Path parameters in the order the path names them.
    path_params.sort_by_key(|param| path.find(&format!("{{{}}}", param.name)).unwrap_or(usize::MAX));
    let body = match operation.pointer("/requestBody") {
        None => None,
        Some(body) => {
            let schema = body.pointer("/content/application~1json/schema").context("a body that is not JSON")?;
            let name = ref_name(schema)
                .or_else(|| {
                    // `oneOf: [$ref, null]`: an optional body (`Option<Json<T>>`).
                    schema.get("oneOf")?.as_array()?.iter().find_map(ref_name)
                })
                .context("a body whose schema is not a component")?;
            let required =
                body.get("required").and_then(Value::as_bool).unwrap_or(false) && schema.get("oneOf").is_none();
            Some(Body { schema: name.to_string(), required })
        }
    };
    let (response, next_cursor_header) = success_response(operation)?;
    let cursor_param = CURSOR_PARAMS.iter().find(|name| query_params.iter().any(|param| param.name == **name));
    let pagination = match (cursor_param, &response) {
        (None, _) => None,
        (Some(cursor), Response::Array(item)) if next_cursor_header => {
            Some(Pagination { cursor_param: cursor.to_string(), item: item.clone(), next_cursor: NextCursor::Header })
        }
        (Some(cursor), Response::Schema(list)) => {
            let schema = spec.pointer(&format!("/components/schemas/{list}")).context("unknown list schema")?;
            let properties =
                schema.get("properties").and_then(Value::as_object).context("a list without properties")?;
            let (items, item) = properties
                .iter()
                .find_map(|(name, property)| {
                    (property.get("type").and_then(Value::as_str) == Some("array"))
                        .then(|| Some((name.clone(), ref_name(property.get("items")?)?.to_string())))
                        .flatten()
                })
                .context("a list schema without an array of items")?;
            if !properties.contains_key("next_cursor") {
                bail!("list schema {list} has no `next_cursor`");
            }
            Some(Pagination {
                cursor_param: cursor.to_string(),
                item,
                next_cursor: NextCursor::Field { items, cursor: "next_cursor".into() },
            })
        }
        (Some(_), _) => bail!("a cursor parameter on an operation that returns no page"),
    };
    Ok(Operation {
        operation_id: operation_id.to_string(),
        method: method_name(resource, operation_id)?,
        http_method: http_method.to_uppercase(),
        path: path.to_string(),
        summary: text(operation, "summary"),
        description: text(operation, "description"),
        path_params,
        query_params,
        body,
        response,
        pagination,
        idempotent,
    })
}

/// The 2xx response's body, and whether it declares `X-Next-Cursor`.
fn success_response(operation: &Value) -> anyhow::Result<(Response, bool)> {
    let responses = operation.get("responses").and_then(Value::as_object).context("no responses")?;
    let (_, success) = responses.iter().find(|(status, _)| status.starts_with('2')).context("no 2xx response")?;
    let next_cursor = success.pointer("/headers/X-Next-Cursor").is_some();
    let Some(schema) = success.pointer("/content/application~1json/schema") else {
        return Ok((Response::Empty, next_cursor));
    };
    if let Some(name) = ref_name(schema) {
        return Ok((Response::Schema(name.to_string()), next_cursor));
    }
    if schema.get("type").and_then(Value::as_str) == Some("array")
        && let Some(item) = schema.get("items").and_then(ref_name)
    {
        return Ok((Response::Array(item.to_string()), next_cursor));
    }
    bail!("a 2xx body that is neither a component nor an array of one")
}

/// `create_api_key` in `api_keys` → `create`: the operation id without the
/// resource's noun, plural or singular.
pub fn method_name(resource: &str, operation_id: &str) -> anyhow::Result<String> {
    let plural = resource;
    let singular = singular(resource);
    let words: Vec<&str> = operation_id.split('_').collect();
    for noun in [plural, singular.as_str()] {
        let noun_words: Vec<&str> = noun.split('_').collect();
        if let Some(start) = words.windows(noun_words.len()).position(|window| window == noun_words.as_slice()) {
            let rest: Vec<&str> = words[..start].iter().chain(&words[start + noun_words.len()..]).copied().collect();
            if !rest.is_empty() {
                return Ok(rest.join("_"));
            }
        }
    }
    bail!("operationId `{operation_id}` does not name its resource `{resource}` (plural or singular)")
}

fn singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = plural.strip_suffix('s') {
        stem.to_string()
    } else {
        plural.to_string()
    }
}

/// `type: [T, "null"]`, or `oneOf: [T, {type: null}]` (a nullable `$ref`).
pub fn is_nullable(schema: &Value) -> bool {
    let null_type = |schema: &Value| match schema.get("type") {
        Some(Value::String(kind)) => kind == "null",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "null"),
        _ => false,
    };
    null_type(schema)
        || ["oneOf", "anyOf"]
            .iter()
            .any(|key| schema.get(*key).and_then(Value::as_array).is_some_and(|options| options.iter().any(null_type)))
}

/// Every component name `schema` refers to (not following the refs).
pub fn refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = ref_name(schema) {
                out.push(name.to_string());
            }
            for value in map.values() {
                refs(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

/// The model of the committed spec, for the generators' tests.
#[cfg(test)]
pub fn committed() -> Model {
    let path = crate::workspace_path("openapi/keyward.json");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the committed spec")).expect("json");
    Model::from_spec(&spec).expect("model")
}

pub fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/")
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// `api_keys` → `ApiKeys`.
pub fn pascal(snake: &str) -> String {
    snake
        .split(['_', '-'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// `list_page` → `listPage`.
pub fn camel(snake: &str) -> String {
    let pascal = pascal(snake);
    let mut chars = pascal.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_drop_the_resource_noun() {
        for (resource, operation_id, method) in [
            ("api_keys", "create_api_key", "create"),
            ("api_keys", "list_api_keys", "list"),
            ("api_keys", "get_api_key_usage", "get_usage"),
            ("keys", "verify_key", "verify"),
            ("webhook_endpoints", "rotate_webhook_endpoint_secret", "rotate_secret"),
            ("webhook_deliveries", "redeliver_webhook_delivery", "redeliver"),
            ("webhook_signing_secret", "rotate_webhook_signing_secret", "rotate"),
            ("audit_events", "list_audit_events", "list"),
        ] {
            assert_eq!(method_name(resource, operation_id).expect("named"), method, "{operation_id}");
        }
        assert!(method_name("projects", "redeliver_webhook").is_err(), "an id without its noun is refused");
        assert!(method_name("projects", "project").is_err(), "an id that is only the noun is refused");
        assert_eq!(camel("list_page"), "listPage");
        assert_eq!(pascal("organization_api_keys"), "OrganizationApiKeys");
    }

    #[test]
    fn the_committed_spec_gives_every_sdk_operation_a_resource_and_a_name() {
        let model = committed();
        let names: Vec<String> =
            model.operations().map(|(resource, operation)| format!("{}.{}", resource.name, operation.method)).collect();
        assert!(names.contains(&"api_keys.get_usage".to_string()), "{names:?}");
        assert!(!names.iter().any(|name| name.starts_with("system.") || name.starts_with("leaks.")), "{names:?}");
        let list = model.operations().find(|(_, operation)| operation.operation_id == "list_organization_api_keys");
        let pagination = list.and_then(|(_, operation)| operation.pagination.as_ref()).expect("paginated");
        assert_eq!(pagination.cursor_param, "cursor");
        assert_eq!(model.secret_fields("CreatedApiKey"), ["key"]);
        assert_eq!(model.secret_fields("OrganizationCreatedApiKey"), ["plaintext_api_key"]);
        let clearable = model.clearable_fields();
        assert!(clearable.contains(&("UpdateApiKeyRequest".into(), "expires_at".into())), "{clearable:?}");
        assert!(clearable.contains(&("UpdateWebhookEndpointRequest".into(), "description".into())), "{clearable:?}");
        assert!(!clearable.iter().any(|(_, field)| field == "name" || field == "meta"), "{clearable:?}");
    }
}
