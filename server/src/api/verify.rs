//! `POST /v1/keys/verify`: the hot path (DESIGN §5, §7). A well-formed request
//! always answers 200; the outcome is in `valid` and `code`.

use super::{
    api_keys::{json_list, ms_to_time},
    validate,
};
use crate::{
    auth::{Caller, Permission, key_unusable_reason, scope_granted},
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    keyfmt,
    state::AppState,
    store::{KeyRecord, now_ms},
};
use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyKeyRequest {
    /// The key presented to your service.
    pub key: String,
    /// The IP address of your caller, checked against the key's `allowed_ips`.
    pub ip: Option<String>,
    /// Scopes the key must all hold (`*` and `prefix:*` in the key's scopes match).
    pub required_scopes: Option<Vec<String>>,
    /// Credits and rate-limit tokens this request spends (default 1).
    pub cost: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Malformed,
    Revoked,
    Expired,
    ForbiddenIp,
    InsufficientScopes,
    RateLimited,
    UsageExceeded,
    Disabled,
}

impl VerifyCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::NotFound => "NOT_FOUND",
            Self::Malformed => "MALFORMED",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
            Self::ForbiddenIp => "FORBIDDEN_IP",
            Self::InsufficientScopes => "INSUFFICIENT_SCOPES",
            Self::RateLimited => "RATE_LIMITED",
            Self::UsageExceeded => "USAGE_EXCEEDED",
            Self::Disabled => "DISABLED",
        }
    }
}

/// Rate-limit state of the verified key after this request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RateLimitState {
    pub limit: u64,
    pub remaining: u64,
    /// When the window resets (RFC 3339).
    pub reset_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifyKeyResponse {
    pub valid: bool,
    pub code: VerifyCode,
    pub key_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub project_id: Option<Uuid>,
    pub environment: Option<String>,
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Set while the key is in a rotation grace period.
    pub grace_expires_at: Option<DateTime<Utc>>,
    pub ratelimit: Option<RateLimitState>,
    /// Usage credits left, for keys with a `usage_limit`.
    pub remaining: Option<u64>,
}

impl VerifyKeyResponse {
    fn unknown(code: VerifyCode) -> Self {
        VerifyKeyResponse {
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

    fn for_key(key: &KeyRecord, code: VerifyCode, now: i64) -> Self {
        VerifyKeyResponse {
            valid: code == VerifyCode::Valid,
            code,
            key_id: Uuid::parse_str(&key.id).ok(),
            organization_id: Uuid::parse_str(&key.organization_id).ok(),
            project_id: key.project_id.as_deref().and_then(|p| Uuid::parse_str(p).ok()),
            environment: Some(key.environment.clone()),
            name: Some(key.name.clone()),
            scopes: Some(json_list(&key.scopes)),
            meta: serde_json::from_str(&key.meta).ok(),
            expires_at: key.expires_at.map(ms_to_time),
            grace_expires_at: key.grace_expires_at.filter(|&g| g > now).map(ms_to_time),
            ratelimit: None,
            remaining: key.usage_remaining.map(|r| r.max(0) as u64),
        }
    }
}

/// The checks that need no state beyond the key record, in DESIGN §5 order.
fn static_checks(key: &KeyRecord, ip: Option<IpAddr>, required: &[String], now: i64) -> VerifyCode {
    match key_unusable_reason(key, now) {
        Some("revoked") => return VerifyCode::Revoked,
        Some("disabled") => return VerifyCode::Disabled,
        Some(_) => return VerifyCode::Expired,
        None => {}
    }
    let allowed = json_list(&key.allowed_ips);
    if !allowed.is_empty() {
        let permitted = ip.is_some_and(|ip| {
            allowed.iter().filter_map(|rule| validate::parse_ip_rule(rule)).any(|net| net.contains(&ip))
        });
        if !permitted {
            return VerifyCode::ForbiddenIp;
        }
    }
    if !required.is_empty() {
        let granted = json_list(&key.scopes);
        if !required.iter().all(|r| scope_granted(&granted, r)) {
            return VerifyCode::InsufficientScopes;
        }
    }
    VerifyCode::Valid
}

/// Verify an API key
///
/// Answers 200 for every well-formed request; `valid` and `code` carry the
/// outcome. Keys of another organization (or, for a project key caller,
/// another project) answer `NOT_FOUND`.
#[utoipa::path(post, path = "/v1/keys/verify", tag = "verification", operation_id = "verify_key",
    request_body = VerifyKeyRequest,
    responses(
        (status = 200, description = "The verification outcome", body = VerifyKeyResponse),
        (status = 400, description = "Invalid field (e.g. `ip` is not an IP address)", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:verify` scope", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn verify_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<VerifyKeyRequest>,
) -> ApiResult<Json<VerifyKeyResponse>> {
    caller.require(Permission::KeysVerify)?;
    let ip = req
        .ip
        .as_deref()
        .map(|s| s.trim().parse::<IpAddr>().map_err(|_| ApiError::invalid_field("ip", "not an IP address")))
        .transpose()?;
    let required = req.required_scopes.unwrap_or_default();
    let Some(parsed) = keyfmt::parse(req.key.trim()) else {
        return Ok(Json(VerifyKeyResponse::unknown(VerifyCode::Malformed)));
    };
    let Some(key) = state.keys.lookup(&keyfmt::hash_key(parsed.full)).await? else {
        return Ok(Json(VerifyKeyResponse::unknown(VerifyCode::NotFound)));
    };
    if key.organization_id != caller.organization_id || !caller.can_see_project(key.project_id.as_deref()) {
        return Ok(Json(VerifyKeyResponse::unknown(VerifyCode::NotFound)));
    }
    let now = now_ms();
    let code = static_checks(&key, ip, &required, now);
    Ok(Json(VerifyKeyResponse::for_key(&key, code, now)))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_key))
}
