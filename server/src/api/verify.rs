//! `POST /v1/keys/verify`: the hot path (`docs/architecture.md#the-verify-path`). A well-formed request
//! always answers 200; the outcome is in `valid` and `code`.

use super::api_keys::ms_to_time;
use crate::{
    app::{self, AppState, verify::VerifyInput},
    auth::Caller,
    cache::CachedKey,
    error::{ApiResult, ErrorBody},
    extract::ApiJson,
    ratelimit::Decision,
    store::{KeyId, OrgId, ProjectId},
};
use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, value::RawValue};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "kros_live_4f9QkZ1x8cVb2NmA7sLp0RtYw3EuHj6DgKq2Wx", "ip": "10.1.2.3", "required_scopes": ["billing:charge"], "cost": 1}))]
pub struct VerifyKeyRequest {
    /// The key presented to your service.
    pub key: String,
    /// The IP address of your caller, checked against the key's `allowed_ips`.
    #[schema(inline, value_type = Option<super::validate::IpAddress>)]
    pub ip: Option<String>,
    /// Scopes the key must all hold (`*` and `prefix:*` in the key's scopes match).
    pub required_scopes: Option<Vec<String>>,
    /// Credits and rate-limit tokens this request spends: 0 to 1 000 000 (default 1).
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub cost: Option<u64>,
}

pub use crate::{app::verify::MAX_COST, domain::verify::VerifyCode};

/// Rate-limit state of the verified key after this request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RateLimitState {
    pub limit: u64,
    pub remaining: u64,
    /// When the window resets (RFC 3339).
    pub reset_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"valid": true, "code": "VALID", "key_id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", "organization_id": "0193a3c1-0000-7000-8000-000000000001", "project_id": null, "environment": "live", "name": "billing worker", "scopes": ["keys:verify", "billing:*"], "meta": {"team": "payments"}, "expires_at": null, "grace_expires_at": null, "ratelimit": {"limit": 100, "remaining": 99, "reset_at": "2026-11-23T12:01:00Z"}, "remaining": 9999}))]
pub struct VerifyKeyResponse {
    pub valid: bool,
    pub code: VerifyCode,
    pub key_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub environment: Option<String>,
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[schema(schema_with = crate::app::validate::verified_meta_schema)]
    pub meta: Option<Map<String, Value>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Set while the key is in a rotation grace period.
    pub grace_expires_at: Option<DateTime<Utc>>,
    pub ratelimit: Option<RateLimitState>,
    /// Usage credits left, for keys with a `usage_limit`.
    pub remaining: Option<u64>,
}

/// What the handler serializes: [`VerifyKeyResponse`] borrowed from the
/// cached key, so a verify copies no strings and re-parses no JSON.
#[derive(Serialize)]
struct VerifyOut<'a> {
    valid: bool,
    code: VerifyCode,
    key_id: Option<KeyId>,
    organization_id: Option<OrgId>,
    project_id: Option<ProjectId>,
    environment: Option<&'a str>,
    name: Option<&'a str>,
    scopes: Option<&'a [String]>,
    meta: Option<&'a RawValue>,
    expires_at: Option<DateTime<Utc>>,
    grace_expires_at: Option<DateTime<Utc>>,
    ratelimit: Option<RateLimitState>,
    remaining: Option<u64>,
}

impl<'a> VerifyOut<'a> {
    fn unknown(code: VerifyCode) -> Self {
        VerifyOut {
            valid: false,
            code,
            key_id: None,
            organization_id: None,
            project_id: None,
            environment: None,
            name: None,
            scopes: None,
            meta: None,
            expires_at: None,
            grace_expires_at: None,
            ratelimit: None,
            remaining: None,
        }
    }

    fn for_key(key: &'a CachedKey, code: VerifyCode, now: i64) -> Self {
        let r = &key.record;
        VerifyOut {
            valid: code == VerifyCode::Valid,
            code,
            key_id: Some(r.id),
            organization_id: Some(r.organization_id),
            project_id: r.project_id,
            environment: Some(&r.environment),
            name: Some(&r.name),
            scopes: Some(&key.scopes),
            meta: Some(&key.meta),
            expires_at: key.expires_at,
            grace_expires_at: r.grace_expires_at.filter(|&g| g > now).map(ms_to_time),
            ratelimit: None,
            remaining: None,
        }
    }
}

fn rate_limit_state(d: &Decision) -> RateLimitState {
    RateLimitState { limit: d.limit, remaining: d.remaining, reset_at: ms_to_time(d.reset_at_ms) }
}

/// Verify an API key
///
/// Answers 200 for every well-formed request; `valid` and `code` carry the
/// outcome. Keys of another organization (or, for a project key caller,
/// another project) answer exactly as a key that does not exist.
#[utoipa::path(post, path = "/v1/keys/verify", tag = "keys", operation_id = "verify_key",
    request_body = VerifyKeyRequest,
    responses(
        (status = 200, description = "The verification outcome", body = VerifyKeyResponse),
        (status = 400, description = "Invalid field (`ip` is not an IP address, `cost` is out of range)", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:verify` scope", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn verify_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<VerifyKeyRequest>,
) -> ApiResult<Response> {
    let input = VerifyInput {
        key: &req.key,
        ip: req.ip.as_deref(),
        required_scopes: req.required_scopes.as_deref().unwrap_or_default(),
        cost: req.cost,
    };
    let outcome = app::verify::verify(&state, &caller, input).await?;
    let mut out = match &outcome.key {
        Some(key) => VerifyOut::for_key(key, outcome.code, outcome.now),
        None => VerifyOut::unknown(outcome.code),
    };
    out.ratelimit = outcome.ratelimit.as_ref().map(rate_limit_state);
    out.remaining = outcome.remaining;
    Ok(Json(out).into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_key))
}
