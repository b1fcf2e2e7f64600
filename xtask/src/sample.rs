//! A small API written the way the server writes its own (utoipa derives and
//! path annotations), so the downgrade and codegen are tested against what
//! utoipa really emits — `Option<Struct>`, `Option<primitive>`, flattened
//! structs, enums, response headers — independently of the server crate.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RateLimit {
    pub limit: u32,
    pub window_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Refill {
    pub amount: u64,
    pub interval_ms: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct UsageLimit {
    pub remaining: u64,
    pub refill: Option<Refill>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    Api,
    Dashboard,
    Rotation,
}

/// An API key (the secret itself is never part of it).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub project_id: Option<Uuid>,
    /// `live`, `test`, …
    pub environment: String,
    pub name: String,
    #[schema(examples("kros_live_abc1"))]
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub rate_limit: Option<RateLimit>,
    pub usage_limit: Option<UsageLimit>,
    pub usage_count: u64,
    pub rotation_interval_days: Option<u32>,
    pub source: KeySource,
    pub is_active: bool,
}

/// An API key with its plaintext secret, returned once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ApiKeyWithSecret {
    #[serde(flatten)]
    pub api_key: ApiKey,
    pub key: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CreateApiKey {
    pub project_id: Option<Uuid>,
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rate_limit: Option<RateLimit>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Revoked,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VerifyRequest {
    pub key: String,
    pub required_scopes: Option<Vec<String>>,
    pub cost: Option<u32>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    pub code: VerifyCode,
    pub key_id: Option<Uuid>,
    pub remaining: Option<u64>,
}

/// Every 4xx/5xx body.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
    pub request_id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub project_id: Option<Uuid>,
    pub limit: Option<u32>,
    pub starting_after: Option<String>,
}

#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", operation_id = "list_api_keys", params(ListParams),
    responses(
        (status = 200, description = "Newest first", body = Vec<ApiKey>,
            headers(("X-Next-Cursor" = String, description = "Cursor of the next page; absent on the last"))),
        (status = 400, description = "Bad request", body = ErrorBody),
    ))]
fn list_api_keys() {}

#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", operation_id = "create_api_key", request_body = CreateApiKey,
    responses((status = 201, description = "Created", body = ApiKeyWithSecret), (status = 400, description = "Bad request", body = ErrorBody)))]
fn create_api_key() {}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", operation_id = "get_api_key", params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 200, description = "The key", body = ApiKey), (status = 404, description = "Not found", body = ErrorBody)))]
fn get_api_key() {}

// No description on the 204: utoipa then emits a response without one.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", operation_id = "revoke_api_key", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, description = "Not found", body = ErrorBody)))]
fn revoke_api_key() {}

#[utoipa::path(post, path = "/v1/keys/verify", tag = "verify", operation_id = "verify_key", request_body = VerifyRequest,
    responses((status = 200, description = "Verdict", body = VerifyResponse)))]
fn verify_key() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "keyward", version = "0.1.0", license(name = "Apache-2.0", identifier = "Apache-2.0")),
    paths(list_api_keys, create_api_key, get_api_key, revoke_api_key, verify_key),
    tags((name = "api-keys", description = "Manage API keys"), (name = "verify", description = "Verify API keys"))
)]
pub struct SampleApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    SampleApi::openapi()
}
