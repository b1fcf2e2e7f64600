//! Native half of the `keyward` npm package: a thin napi-rs layer over the
//! Rust facade (`keyward::Client`, see docs/sdk-contract.md).
//!
//! Everything crosses the boundary as JSON (`serde_json::Value` ↔ JS object)
//! with the API's snake_case field names; the JS wrapper (`lib/`) converts to
//! camelCase, wraps plaintext keys in `SecretKey` and turns the structured
//! error (JSON in the napi error message, see [`to_napi_error`]) into the
//! right error class. Every operation is an async method returning a Promise.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use napi::{Error as NapiError, Result, Status, bindgen_prelude::Buffer};
use napi_derive::napi;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use keyward::{Client, RequestOptions, types};

// ---------------------------------------------------------------------------
// Errors: every failure is a JSON object in the napi error's message, which
// `lib/errors.js` parses back: {"type": "api"|"timeout"|"connection"|
// "invalid_config"|"decode"|"invalid_argument"|"aborted", status?, code?,
// message, request_id?}.

fn error_json(kind: &str, message: impl Into<String>) -> Value {
    json!({ "type": kind, "message": message.into() })
}

fn to_napi_error(value: Value) -> NapiError {
    NapiError::new(Status::GenericFailure, value.to_string())
}

fn sdk_error(error: keyward::Error) -> NapiError {
    let value = match &error {
        keyward::Error::Api { status, code, message, request_id } => json!({
            "type": "api",
            "status": status,
            "code": code,
            "message": message,
            "request_id": request_id,
        }),
        keyward::Error::Timeout => error_json("timeout", error.to_string()),
        keyward::Error::Connection(message) => error_json("connection", message.clone()),
        keyward::Error::InvalidConfig(message) => error_json("invalid_config", message.clone()),
        keyward::Error::Decode(message) => error_json("decode", message.clone()),
        #[allow(unreachable_patterns)]
        _ => error_json("unknown", error.to_string()),
    };
    to_napi_error(value)
}

fn invalid(message: impl Into<String>) -> NapiError {
    to_napi_error(error_json("invalid_argument", message))
}

// ---------------------------------------------------------------------------
// JSON helpers.

/// Deserializes `value` into whatever the facade wants (a generated request
/// type, a `Uuid`, a `String`, …), naming `what` in the error; an enum value
/// this SDK does not know is refused here, before anything is sent.
fn parse<T: DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    keyward::enums::from_caller_value(value).map_err(|error| invalid(format!("invalid {what}: {error}")))
}

/// The object `value` (null/undefined → empty), or an error naming `what`.
fn object(value: Option<Value>, what: &str) -> Result<Map<String, Value>> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(invalid(format!("{what} must be an object"))),
    }
}

/// Optional field `name` of `map`, deserialized; null and absent are `None`.
fn field<T: DeserializeOwned>(map: &Map<String, Value>, name: &str) -> Result<Option<T>> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse(value.clone(), name).map(Some),
    }
}

fn required<T: DeserializeOwned>(value: Value, what: &str) -> Result<T> {
    if value.is_null() {
        return Err(invalid(format!("{what} is required")));
    }
    parse(value, what)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|error| to_napi_error(error_json("decode", error.to_string())))
}

fn created_key(created: keyward::CreatedKey) -> Result<Value> {
    let mut value = to_json(&created.api_key)?;
    if let Value::Object(map) = &mut value {
        map.insert("key".into(), Value::String(created.key.expose().to_owned()));
    }
    Ok(value)
}

/// The endpoint JSON with its `secret` put back (the wrapper makes it a SecretKey).
fn created_endpoint(created: keyward::CreatedEndpoint) -> Result<Value> {
    let mut value = to_json(&created.endpoint)?;
    if let Value::Object(map) = &mut value {
        map.insert("secret".into(), Value::String(created.secret.expose().to_owned()));
    }
    Ok(value)
}

fn page<T: serde::Serialize>(page: keyward::Page<T>) -> Result<Value> {
    Ok(json!({ "items": to_json(&page.items)?, "next_cursor": page.next_cursor }))
}

// ---------------------------------------------------------------------------
// Cancellation: the JS wrapper gives each call that has an AbortSignal an id;
// `cancel(id)` drops the in-flight request (and its pending retries). A
// cancel that arrives before the call has registered leaves a tombstone.

enum CancelSlot {
    Waiting(oneshot::Sender<()>),
    Cancelled,
}

fn cancels() -> &'static Mutex<HashMap<u32, CancelSlot>> {
    static CANCELS: OnceLock<Mutex<HashMap<u32, CancelSlot>>> = OnceLock::new();
    CANCELS.get_or_init(Default::default)
}

/// Drops the in-flight call registered under `id` (no-op when it finished).
#[napi]
pub fn cancel(id: u32) {
    let mut slots = cancels().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match slots.remove(&id) {
        Some(CancelSlot::Waiting(sender)) => {
            let _ = sender.send(());
        }
        Some(CancelSlot::Cancelled) | None => {
            slots.insert(id, CancelSlot::Cancelled);
        }
    }
}

/// Forgets a tombstone left by a `cancel` for a call that never ran.
#[napi]
pub fn release_cancel_id(id: u32) {
    cancels().lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&id);
}

async fn cancellable<T>(id: Option<u32>, work: impl Future<Output = Result<T>>) -> Result<T> {
    let Some(id) = id else { return work.await };
    let (sender, receiver) = oneshot::channel();
    {
        let mut slots = cancels().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(CancelSlot::Cancelled) = slots.remove(&id) {
            return Err(to_napi_error(error_json("aborted", "request was aborted")));
        }
        slots.insert(id, CancelSlot::Waiting(sender));
    }
    let outcome = tokio::select! {
        result = work => result,
        _ = receiver => Err(to_napi_error(error_json("aborted", "request was aborted"))),
    };
    cancels().lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&id);
    outcome
}

// ---------------------------------------------------------------------------
// The client.

/// Per-call options as the wrapper sends them: {timeout_ms?, max_retries?,
/// idempotency_key?, cancel_id?}.
struct CallOptions {
    request: Option<RequestOptions>,
    cancel_id: Option<u32>,
}

fn call_options(options: Option<Value>) -> Result<CallOptions> {
    let map = object(options, "options")?;
    let timeout_ms: Option<f64> = field(&map, "timeout_ms")?;
    let max_retries: Option<u32> = field(&map, "max_retries")?;
    let idempotency_key: Option<String> = field(&map, "idempotency_key")?;
    let cancel_id: Option<u32> = field(&map, "cancel_id")?;
    let request = if timeout_ms.is_some() || max_retries.is_some() || idempotency_key.is_some() {
        let timeout = timeout_ms.map(duration_ms).transpose()?;
        Some(RequestOptions { timeout, max_retries, idempotency_key })
    } else {
        None
    };
    Ok(CallOptions { request, cancel_id })
}

fn duration_ms(ms: f64) -> Result<Duration> {
    if !ms.is_finite() || ms <= 0.0 {
        return Err(invalid("timeout must be a positive number of milliseconds"));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// The native client. JS: `new NativeClient({api_key, base_url?, timeout_ms?,
/// max_retries?, user_agent?, organization_id?})`.
#[napi]
pub struct NativeClient {
    client: Client,
}

#[napi]
impl NativeClient {
    #[napi(constructor)]
    pub fn new(config: Value) -> Result<Self> {
        let map = object(Some(config), "config")?;
        let mut builder = Client::builder();
        match field::<String>(&map, "api_key")? {
            Some(api_key) => builder = builder.api_key(api_key),
            None => return Err(to_napi_error(error_json("invalid_config", "api_key is required"))),
        }
        if let Some(base_url) = field::<String>(&map, "base_url")? {
            builder = builder.base_url(base_url);
        }
        if let Some(ms) = field::<f64>(&map, "timeout_ms")? {
            builder = builder.timeout(duration_ms(ms)?);
        }
        if let Some(max_retries) = field::<u32>(&map, "max_retries")? {
            builder = builder.max_retries(max_retries);
        }
        if let Some(user_agent) = field::<String>(&map, "user_agent")? {
            builder = builder.user_agent(user_agent);
        }
        if let Some(organization_id) = field::<keyward::Uuid>(&map, "organization_id")? {
            builder = builder.organization_id(organization_id);
        }
        let client = builder.build().map_err(sdk_error)?;
        Ok(Self { client })
    }

    fn client_for(&self, options: &CallOptions) -> Client {
        match &options.request {
            Some(request) => self.client.with_options(request.clone()),
            None => self.client.clone(),
        }
    }

    // -- /v1/api-keys -------------------------------------------------------

    #[napi]
    pub async fn api_keys_create(&self, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let request: types::CreateApiKeyRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            created_key(client.api_keys().create(request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn api_keys_list_page(&self, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(params, "params")?;
        let params = keyward::ListApiKeys {
            project_id: field(&map, "project_id")?,
            environment: field(&map, "environment")?,
            limit: field(&map, "limit")?,
            starting_after: field(&map, "starting_after")?,
        };
        cancellable(
            options.cancel_id,
            async move { page(client.api_keys().list_page(params).await.map_err(sdk_error)?) },
        )
        .await
    }

    #[napi]
    pub async fn api_keys_get(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move { to_json(&client.api_keys().get(id).await.map_err(sdk_error)?) })
            .await
    }

    #[napi]
    pub async fn api_keys_update(&self, id: Value, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        let request: types::UpdateApiKeyRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.api_keys().update(id, request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn api_keys_revoke(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            client.api_keys().revoke(id).await.map_err(sdk_error)?;
            Ok(Value::Null)
        })
        .await
    }

    #[napi]
    pub async fn api_keys_regenerate(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            created_key(client.api_keys().regenerate(id).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn api_keys_rotate(&self, id: Value, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        let map = object(params, "params")?;
        let grace_period_seconds = field(&map, "grace_period_seconds")?;
        cancellable(options.cancel_id, async move {
            let rotated = client.api_keys().rotate(id, grace_period_seconds).await.map_err(sdk_error)?;
            let mut value = to_json(&rotated.rotation)?;
            if let Value::Object(map) = &mut value {
                map.insert("key".into(), Value::String(rotated.key.expose().to_owned()));
            }
            Ok(value)
        })
        .await
    }

    // -- /v1/organizations/{org}/api-keys -----------------------------------

    #[napi]
    pub async fn organization_api_keys_create(
        &self,
        org: Value,
        params: Value,
        options: Option<Value>,
    ) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let request = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            created_key(client.organization_api_keys().create(org, request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn organization_api_keys_list_page(
        &self,
        org: Value,
        params: Option<Value>,
        options: Option<Value>,
    ) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let map = object(params, "params")?;
        let params = keyward::ListOrganizationApiKeys {
            project_id: field(&map, "project_id")?,
            environment: field(&map, "environment")?,
            limit: field(&map, "limit")?,
            cursor: field(&map, "cursor")?,
        };
        cancellable(options.cancel_id, async move {
            page(client.organization_api_keys().list_page(org, params).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn organization_api_keys_revoke(&self, org: Value, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            client.organization_api_keys().revoke(org, id).await.map_err(sdk_error)?;
            Ok(Value::Null)
        })
        .await
    }

    // -- /v1/projects -------------------------------------------------------

    #[napi]
    pub async fn projects_create(&self, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let request: types::CreateProjectRequest = required(params, "params")?;
        cancellable(
            options.cancel_id,
            async move { to_json(&client.projects().create(request).await.map_err(sdk_error)?) },
        )
        .await
    }

    #[napi]
    pub async fn projects_list_page(&self, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(params, "params")?;
        let params =
            keyward::ListProjects { limit: field(&map, "limit")?, starting_after: field(&map, "starting_after")? };
        cancellable(
            options.cancel_id,
            async move { page(client.projects().list_page(params).await.map_err(sdk_error)?) },
        )
        .await
    }

    #[napi]
    pub async fn projects_get(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move { to_json(&client.projects().get(id).await.map_err(sdk_error)?) })
            .await
    }

    #[napi]
    pub async fn projects_update(&self, id: Value, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        let request: types::UpdateProjectRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.projects().update(id, request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn projects_delete(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            client.projects().delete(id).await.map_err(sdk_error)?;
            Ok(Value::Null)
        })
        .await
    }

    // -- /v1/organizations --------------------------------------------------

    #[napi]
    pub async fn organizations_create(&self, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let request: types::CreateOrganizationRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.organizations().create(request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn organizations_list_page(&self, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(params, "params")?;
        let params =
            keyward::ListOrganizations { limit: field(&map, "limit")?, starting_after: field(&map, "starting_after")? };
        cancellable(options.cancel_id, async move {
            page(client.organizations().list_page(params).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn organizations_get(&self, org: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        cancellable(
            options.cancel_id,
            async move { to_json(&client.organizations().get(org).await.map_err(sdk_error)?) },
        )
        .await
    }

    #[napi]
    pub async fn organizations_update(&self, org: Value, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let request: types::UpdateOrganizationRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.organizations().update(org, request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn organizations_delete(&self, org: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        cancellable(options.cancel_id, async move {
            client.organizations().delete(org).await.map_err(sdk_error)?;
            Ok(Value::Null)
        })
        .await
    }

    // -- /v1/organizations/{org}/members ------------------------------------

    #[napi]
    pub async fn members_list_page(&self, org: Value, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let map = object(params, "params")?;
        let params =
            keyward::ListMembers { limit: field(&map, "limit")?, starting_after: field(&map, "starting_after")? };
        cancellable(options.cancel_id, async move {
            page(client.members().list_page(org, params).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn members_add(&self, org: Value, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let request: types::AddMemberRequest = required(params, "params")?;
        cancellable(
            options.cancel_id,
            async move { to_json(&client.members().add(org, request).await.map_err(sdk_error)?) },
        )
        .await
    }

    #[napi]
    pub async fn members_update(
        &self,
        org: Value,
        user_id: Value,
        params: Value,
        options: Option<Value>,
    ) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let user_id: String = required(user_id, "userId")?;
        let request: types::UpdateMemberRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.members().update(org, &user_id, request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn members_remove(&self, org: Value, user_id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let org = required(org, "organizationId")?;
        let user_id: String = required(user_id, "userId")?;
        cancellable(options.cancel_id, async move {
            client.members().remove(org, &user_id).await.map_err(sdk_error)?;
            Ok(Value::Null)
        })
        .await
    }

    // -- /v1/projects/{id}/environments -------------------------------------

    #[napi]
    pub async fn environments_list_page(
        &self,
        project_id: Value,
        params: Option<Value>,
        options: Option<Value>,
    ) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let project_id = required(project_id, "projectId")?;
        let map = object(params, "params")?;
        let params =
            keyward::ListEnvironments { limit: field(&map, "limit")?, starting_after: field(&map, "starting_after")? };
        cancellable(options.cancel_id, async move {
            page(client.environments().list_page(project_id, params).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn environments_create(&self, project_id: Value, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let project_id = required(project_id, "projectId")?;
        let request: types::CreateEnvironmentRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.environments().create(project_id, request).await.map_err(sdk_error)?)
        })
        .await
    }

    // -- /v1/audit-events ---------------------------------------------------

    #[napi]
    pub async fn audit_events_list_page(&self, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(params, "params")?;
        let params = keyward::ListAuditEvents {
            action: field(&map, "action")?,
            actor_id: field(&map, "actor_id")?,
            target_id: field(&map, "target_id")?,
            since: field(&map, "since")?,
            until: field(&map, "until")?,
            limit: field(&map, "limit")?,
            starting_after: field(&map, "starting_after")?,
        };
        cancellable(options.cancel_id, async move {
            page(client.audit_events().list_page(params).await.map_err(sdk_error)?)
        })
        .await
    }

    // -- /v1/api-keys/import -------------------------------------------------

    /// `{keys: [ImportedApiKey, …]}` → `{imported: [ApiKey, …]}` (request order).
    #[napi]
    pub async fn api_keys_import(&self, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(Some(params), "params")?;
        let keys: Vec<types::ImportedApiKey> = match map.get("keys") {
            None | Some(Value::Null) => return Err(invalid("keys is required")),
            Some(keys) => parse(keys.clone(), "keys")?,
        };
        cancellable(options.cancel_id, async move {
            let imported = client.api_keys().import(keys).await.map_err(sdk_error)?;
            Ok(json!({ "imported": to_json(&imported)? }))
        })
        .await
    }

    // -- /v1/webhook-endpoints ----------------------------------------------

    #[napi]
    pub async fn webhook_endpoints_create(&self, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let request: types::CreateWebhookEndpointRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            created_endpoint(client.webhook_endpoints().create(request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn webhook_endpoints_list_page(&self, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(params, "params")?;
        let params = keyward::ListWebhookEndpoints {
            limit: field(&map, "limit")?,
            starting_after: field(&map, "starting_after")?,
        };
        cancellable(options.cancel_id, async move {
            page(client.webhook_endpoints().list_page(params).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn webhook_endpoints_get(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(
            options.cancel_id,
            async move { to_json(&client.webhook_endpoints().get(id).await.map_err(sdk_error)?) },
        )
        .await
    }

    #[napi]
    pub async fn webhook_endpoints_update(&self, id: Value, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        let request: types::UpdateWebhookEndpointRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.webhook_endpoints().update(id, request).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn webhook_endpoints_delete(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            client.webhook_endpoints().delete(id).await.map_err(sdk_error)?;
            Ok(Value::Null)
        })
        .await
    }

    #[napi]
    pub async fn webhook_endpoints_rotate_secret(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            created_endpoint(client.webhook_endpoints().rotate_secret(id).await.map_err(sdk_error)?)
        })
        .await
    }

    // -- /v1/webhook-deliveries ---------------------------------------------

    #[napi]
    pub async fn webhook_deliveries_list_page(&self, params: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let map = object(params, "params")?;
        let params = keyward::ListWebhookDeliveries {
            endpoint_id: field(&map, "endpoint_id")?,
            api_key_id: field(&map, "api_key_id")?,
            event_type: field(&map, "event_type")?,
            status: field(&map, "status")?,
            limit: field(&map, "limit")?,
            starting_after: field(&map, "starting_after")?,
        };
        cancellable(options.cancel_id, async move {
            page(client.webhook_deliveries().list_page(params).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn webhook_deliveries_get(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.webhook_deliveries().get(id).await.map_err(sdk_error)?)
        })
        .await
    }

    #[napi]
    pub async fn webhook_deliveries_redeliver(&self, id: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let id = required(id, "id")?;
        cancellable(options.cancel_id, async move {
            to_json(&client.webhook_deliveries().redeliver(id).await.map_err(sdk_error)?)
        })
        .await
    }

    // -- /v1/webhook-signing-secret -----------------------------------------

    /// `{secret}`: the organization's new secret for keys' `rotation_webhook_url` deliveries.
    #[napi]
    pub async fn webhook_signing_secret_rotate(&self, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        cancellable(options.cancel_id, async move {
            let secret = client.webhook_signing_secret().rotate().await.map_err(sdk_error)?;
            Ok(json!({ "secret": secret.expose() }))
        })
        .await
    }

    // -- /v1/keys/verify ----------------------------------------------------

    #[napi]
    pub async fn keys_verify(&self, params: Value, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        let request: types::VerifyKeyRequest = required(params, "params")?;
        cancellable(options.cancel_id, async move { to_json(&client.keys().verify(request).await.map_err(sdk_error)?) })
            .await
    }
}

/// The `key_hash` of a key to import: SHA-256 of its full text, 64 lower-case
/// hex characters (`keyward::key_hash`).
#[napi]
pub fn key_hash(key: String) -> String {
    keyward::key_hash(&key)
}

// ---------------------------------------------------------------------------
// Webhooks: Standard Webhooks signature verification (`keyward::webhooks`).
// Synchronous and client-free (an HMAC and a JSON parse); `lib/webhooks.js`
// normalizes payloads and headers and maps the errors.

/// `{"type": "webhook", "code", "message"}` → `WebhookVerificationError`; a
/// malformed secret is the caller's configuration → `invalid_argument`.
fn webhook_error(error: keyward::webhooks::WebhookError) -> NapiError {
    match error {
        keyward::webhooks::WebhookError::InvalidSecret => invalid(error.to_string()),
        _ => to_napi_error(json!({ "type": "webhook", "code": error.code(), "message": error.to_string() })),
    }
}

/// One webhook endpoint's secret and timestamp tolerance. JS:
/// `new NativeWebhook(secret, toleranceSeconds?)`. The decoded key stays in
/// Rust memory; nothing returns or prints it.
#[napi]
pub struct NativeWebhook {
    webhook: keyward::webhooks::Webhook,
}

#[napi]
impl NativeWebhook {
    #[napi(constructor)]
    pub fn new(secret: String, tolerance_seconds: Option<u32>) -> Result<Self> {
        let webhook = keyward::webhooks::Webhook::new(&secret).map_err(webhook_error)?;
        let tolerance = tolerance_seconds
            .map(|seconds| Duration::from_secs(u64::from(seconds)))
            .unwrap_or(keyward::webhooks::DEFAULT_TOLERANCE);
        Ok(Self { webhook: webhook.with_tolerance(tolerance) })
    }

    /// Verifies `payload` (the raw body) against `headers` (`[[name, value], …]`,
    /// names in any case) and returns the body parsed as JSON.
    #[napi]
    pub fn verify(&self, payload: Buffer, headers: Value) -> Result<Value> {
        let headers: Vec<(String, String)> = parse(headers, "headers")?;
        self.webhook.verify(&payload, &headers).map_err(webhook_error)
    }

    /// The `webhook-signature` value (`v1,<base64>`) of a message.
    #[napi]
    pub fn sign(&self, msg_id: String, timestamp: i64, payload: Buffer) -> String {
        self.webhook.sign(&msg_id, timestamp, &payload)
    }

    #[napi(getter)]
    pub fn tolerance_seconds(&self) -> f64 {
        self.webhook.tolerance().as_secs() as f64
    }
}
