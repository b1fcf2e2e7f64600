//! Native half of the `keyward` npm package: a thin napi-rs layer over the
//! Rust facade (`keyward::Client`, see docs/sdk-contract.md).
//!
//! Everything crosses the boundary as JSON (`serde_json::Value` ↔ JS object)
//! with the API's snake_case field names; the JS wrapper (`lib/`) converts to
//! camelCase, wraps plaintext keys in `SecretKey` and turns the structured
//! error (JSON in the napi error message, see [`to_napi_error`]) into the
//! right error class. Every operation goes through one async entry point,
//! `NativeClient.call(operation, args, options)`, returning a Promise.

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

use keyward::{Client, RequestOptions};

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
        keyward::Error::InvalidArgument(message) => error_json("invalid_argument", message.clone()),
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
/// idempotency_key?, headers? (name → value), cancel_id?}.
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
    let headers: Option<std::collections::BTreeMap<String, String>> = field(&map, "headers")?;
    let extra_headers: Vec<(String, String)> = headers.unwrap_or_default().into_iter().collect();
    let request =
        if timeout_ms.is_some() || max_retries.is_some() || idempotency_key.is_some() || !extra_headers.is_empty() {
            let timeout = timeout_ms.map(duration_ms).transpose()?;
            Some(RequestOptions { timeout, max_retries, idempotency_key, extra_headers })
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

    /// Runs `operation` (`"api_keys.create"`, …) through the SDK's generated
    /// operation table (`keyward::dispatch`): `args` holds the path and query
    /// parameters by name and the request body under `body`, all snake_case;
    /// the result is the response as JSON. `options`: {timeout_ms?,
    /// max_retries?, idempotency_key?, cancel_id?}.
    #[napi]
    pub async fn call(&self, operation: String, args: Option<Value>, options: Option<Value>) -> Result<Value> {
        let options = call_options(options)?;
        let client = self.client_for(&options);
        cancellable(options.cancel_id, async move {
            keyward::dispatch::dispatch(&client, &operation, args.unwrap_or(Value::Null)).await.map_err(|error| {
                match error {
                    keyward::DispatchError::Argument(message) => invalid(message),
                    keyward::DispatchError::Api(error) => sdk_error(error),
                }
            })
        })
        .await
    }

    /// Every operation `call` runs, in the spec's order.
    #[napi]
    pub fn operations() -> Vec<String> {
        keyward::dispatch::OPERATIONS.iter().map(|name| name.to_string()).collect()
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
