//! `/v1/api-keys`: the canonical, project-level key family (DTOs, the key
//! lifecycle shared with the organization family, handlers, router).

use super::{PageQuery, list_response, nullable, validate};
use crate::{
    app::AppState,
    auth::{Caller, Permission},
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath, OptionalJson},
};
use axum::{extract::State, http::StatusCode, response::Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub const TAG: &str = "api-keys";

pub use crate::{
    app::keys::{
        ApiKey, ChangedBy, DEFAULT_ENVIRONMENT, KeyChanges, NewKey, RotatedKey, audit_summary, create_key,
        load_visible_key, prepare_key, record_change, regenerate_key, revoke_key, revoke_record, rotate_key,
        rotate_record, update_key,
    },
    domain::{
        keys::{KeySource, RateLimit, UsageLimit, UsageRefill, json_list},
        time::ms_to_time,
    },
};

// ---------------------------------------------------------------- DTOs

/// An API key with its plaintext `key`, returned once by create and regenerate.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The full key. Shown exactly once: store it now.
    #[schema(format = Password)]
    pub key: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "billing worker", "project_id": "0193a3c1-0000-7000-8000-0000000000aa", "environment": "live", "scopes": ["keys:verify", "billing:*"], "allowed_ips": ["10.0.0.0/8"], "meta": {"team": "payments"}, "rate_limit": {"limit": 100, "window_ms": 60000}, "usage_limit": {"remaining": 10000, "refill": {"amount": 10000, "interval_ms": 2592000000u64}}, "expires_at": "2027-01-01T00:00:00Z"}))]
pub struct CreateApiKeyRequest {
    /// Project the key belongs to; defaults to the calling key's project (none: an org-wide key).
    pub project_id: Option<Uuid>,
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// At most 100 scopes (`[a-z0-9_:.*-]`, 1-100 characters each); defaults to the project's default scopes.
    #[schema(inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    pub scopes: Option<Vec<String>>,
    /// Must be in the future; defaults to now + the project's default TTL, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// At most 100 IP addresses or CIDR blocks (IPv4/IPv6).
    #[schema(inline, value_type = Option<Vec<validate::IpRule>>, max_items = 100)]
    pub allowed_ips: Option<Vec<String>>,
    #[schema(schema_with = validate::meta_input_schema)]
    pub meta: Option<Map<String, Value>>,
    pub rate_limit: Option<RateLimit>,
    pub usage_limit: Option<UsageLimit>,
    /// Environment name (default `live`): an existing environment of the organization.
    #[schema(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub environment: Option<String>,
    /// At most 200 characters, no control characters.
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub device_name: Option<String>,
    /// Rotate automatically every N days (1-3650).
    #[schema(minimum = 1, maximum = 3650)]
    pub rotation_interval_days: Option<u32>,
    /// Absolute http(s) URL of a public host (at most 2 048 characters); private, loopback and
    /// link-local targets are refused.
    #[schema(max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    pub rotation_webhook_url: Option<String>,
}

/// Partial update: absent fields are left alone; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "billing worker (eu)", "is_active": false, "expires_at": null}))]
pub struct UpdateApiKeyRequest {
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub name: Option<String>,
    /// At most 100 scopes (`[a-z0-9_:.*-]`, 1-100 characters each).
    #[schema(nullable = false, inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub scopes: Option<Vec<String>>,
    /// Must be in the future; `null` clears it.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// At most 100 IP addresses or CIDR blocks (IPv4/IPv6).
    #[schema(nullable = false, inline, value_type = Option<Vec<validate::IpRule>>, max_items = 100)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub allowed_ips: Option<Vec<String>>,
    #[schema(nullable = false, schema_with = validate::meta_input_schema)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub meta: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<RateLimit>)]
    pub rate_limit: Option<Option<RateLimit>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<UsageLimit>)]
    pub usage_limit: Option<Option<UsageLimit>>,
    /// `false` disables the key without revoking it (verify answers DISABLED).
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// At most 200 characters, no control characters.
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub device_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// Rotate automatically every N days (1-3650); `null` stops it.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub rotation_interval_days: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// Absolute http(s) URL of a public host (at most 2 048 characters).
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    pub rotation_webhook_url: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"grace_period_seconds": 3600}))]
pub struct RotateApiKeyRequest {
    /// Seconds the old key keeps verifying, 0 to 1 year (0 or absent: revoked at once, unless the
    /// project sets a default).
    #[schema(minimum = 0, maximum = 31_536_000)]
    pub grace_period_seconds: Option<u64>,
}

/// The result of a rotation: a new key (new id, same settings) replacing the old one.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"old_key_id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", "new_key_id": "0193a3c2-1111-7b7a-9f1e-2b8c4d5e6f71", "project_id": null, "name": "billing worker", "key": "kros_live_4f9QkZ1x8cVb2NmA7sLp0RtYw3EuHj6DgKq2Wx", "key_prefix": "kros_live_4f9Q", "scopes": ["keys:verify"], "expires_at": null, "created_at": "2026-11-23T12:00:00Z", "grace_expires_at": "2026-11-23T13:00:00Z"}))]
pub struct RotatedApiKey {
    pub old_key_id: Uuid,
    pub new_key_id: Uuid,
    pub project_id: Option<Uuid>,
    pub name: String,
    /// The new key's plaintext. Shown exactly once.
    #[schema(format = Password)]
    pub key: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Until when the old key still verifies; null when it was revoked at once.
    pub grace_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApiKeysQuery {
    /// Only keys of this project (a project key always sees only its own).
    pub project_id: Option<Uuid>,
    /// Only keys of this environment.
    #[param(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub environment: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor: the id of the last key of the previous page (from `X-Next-Cursor`).
    pub starting_after: Option<Uuid>,
}

// ---------------------------------------------------------------- to and from the use cases

impl From<CreateApiKeyRequest> for NewKey {
    fn from(r: CreateApiKeyRequest) -> Self {
        NewKey {
            project_id: r.project_id,
            name: r.name,
            scopes: r.scopes,
            expires_at: r.expires_at,
            allowed_ips: r.allowed_ips,
            meta: r.meta,
            rate_limit: r.rate_limit,
            usage_limit: r.usage_limit,
            environment: r.environment,
            device_name: r.device_name,
            rotation_interval_days: r.rotation_interval_days,
            rotation_webhook_url: r.rotation_webhook_url,
        }
    }
}

impl From<UpdateApiKeyRequest> for KeyChanges {
    fn from(r: UpdateApiKeyRequest) -> Self {
        KeyChanges {
            name: r.name,
            scopes: r.scopes,
            expires_at: r.expires_at,
            allowed_ips: r.allowed_ips,
            meta: r.meta,
            rate_limit: r.rate_limit,
            usage_limit: r.usage_limit,
            is_active: r.is_active,
            device_name: r.device_name,
            rotation_interval_days: r.rotation_interval_days,
            rotation_webhook_url: r.rotation_webhook_url,
        }
    }
}

impl From<RotatedKey> for RotatedApiKey {
    fn from(r: RotatedKey) -> Self {
        let new = ApiKey::from(&r.new);
        RotatedApiKey {
            old_key_id: r.old_key_id.uuid(),
            new_key_id: new.id,
            project_id: new.project_id,
            name: new.name,
            key: r.plaintext,
            key_prefix: new.key_prefix,
            scopes: new.scopes,
            expires_at: new.expires_at,
            created_at: new.created_at,
            grace_expires_at: r.grace_expires_at.map(ms_to_time),
        }
    }
}

// ---------------------------------------------------------------- handlers

/// List API keys
///
/// Newest first. When more keys exist, the response carries the next cursor in
/// `X-Next-Cursor` and a `Link: <…>; rel="next"` header.
#[utoipa::path(get, path = "/v1/api-keys", tag = TAG, operation_id = "list_api_keys",
    params(ListApiKeysQuery),
    responses(
        (status = 200, description = "A page of keys", body = Vec<ApiKey>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:read` scope", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListApiKeysQuery>,
) -> ApiResult<Response> {
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page =
        crate::app::keys::list_keys(&state, &caller, q.project_id, q.environment.as_deref(), &page_query).await?;
    let mut extra = Vec::new();
    if let Some(p) = q.project_id {
        extra.push(("project_id", p.to_string()));
    }
    if let Some(e) = q.environment {
        extra.push(("environment", e));
    }
    Ok(list_response("/v1/api-keys", page.map(ApiKey::from), q.limit, &extra))
}

/// Create an API key
///
/// Returns the key with its plaintext `key`, shown exactly once.
#[utoipa::path(post, path = "/v1/api-keys", tag = TAG, operation_id = "create_api_key",
    request_body = CreateApiKeyRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h when repeated with the same body")),
    responses(
        (status = 201, description = "Created; `key` is the plaintext, shown once", body = CreatedApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "The `project_id` or `environment` named does not exist", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused with a different body", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    let (key, plaintext) = create_key(&state, &caller, req.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedApiKey { api_key: ApiKey::from(&key), key: plaintext })))
}

/// Get an API key
///
/// The key is masked: only `key_prefix` and `last4` of the secret are shown.
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = TAG, operation_id = "get_api_key",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:read` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<ApiKey>> {
    caller.require(Permission::KeysRead)?;
    Ok(axum::Json(ApiKey::from(&load_visible_key(&state, &caller, id).await?)))
}

/// Update an API key
///
/// Partial update; `is_active: false` disables the key without revoking it.
#[utoipa::path(patch, path = "/v1/api-keys/{id}", tag = TAG, operation_id = "update_api_key",
    params(("id" = Uuid, Path, description = "API key id")),
    request_body = UpdateApiKeyRequest,
    responses(
        (status = 200, description = "The updated key", body = ApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
        (status = 409, description = "The key is revoked", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateApiKeyRequest>,
) -> ApiResult<axum::Json<ApiKey>> {
    Ok(axum::Json(ApiKey::from(&update_key(&state, &caller, id, req.into()).await?)))
}

/// Revoke an API key
///
/// Idempotent: revoking a revoked key answers 204 too.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = TAG, operation_id = "revoke_api_key",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    revoke_key(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Regenerate an API key
///
/// Same id, new secret; the old secret stops verifying at once.
#[utoipa::path(post, path = "/v1/api-keys/{id}/regenerate", tag = TAG, operation_id = "regenerate_api_key",
    params(("id" = Uuid, Path, description = "API key id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "The key with its new plaintext `key`, shown once", body = CreatedApiKey),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
        (status = 409, description = "The key is revoked or was replaced", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn regenerate_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<CreatedApiKey>> {
    let (key, plaintext) = regenerate_key(&state, &caller, id).await?;
    Ok(axum::Json(CreatedApiKey { api_key: ApiKey::from(&key), key: plaintext }))
}

/// Rotate an API key
///
/// Creates a new key (new id, same settings). Without a grace period the old
/// key is revoked at once; with one it keeps verifying until `grace_expires_at`.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = TAG, operation_id = "rotate_api_key",
    params(("id" = Uuid, Path, description = "API key id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body(content = Option<RotateApiKeyRequest>, description = "Optional; an empty body uses the project's default grace period"),
    responses(
        (status = 201, description = "The new key; `key` is its plaintext, shown once", body = RotatedApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
        (status = 409, description = "The key is revoked or was already replaced", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    OptionalJson(req): OptionalJson<RotateApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<RotatedApiKey>)> {
    let rotated = rotate_key(&state, &caller, id, req.grace_period_seconds).await?;
    Ok((StatusCode::CREATED, axum::Json(RotatedApiKey::from(rotated))))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key, update_api_key, revoke_api_key))
        .routes(routes!(regenerate_api_key))
        .routes(routes!(rotate_api_key))
}
