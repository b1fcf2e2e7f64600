//! `POST /v1/keys/verify`: the hot path (`docs/architecture.md#the-verify-path`). A well-formed request
//! always answers 200; the outcome is in `valid` and `code`.

use super::api_keys::{ChangedBy, ms_to_time, record_change};
use crate::{
    app::AppState,
    auth::{Caller, Permission, key_unusable_reason, scope_granted},
    cache::CachedKey,
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiJson,
    keyfmt,
    ratelimit::Decision,
    usage::{self, Spend},
    webhooks::WebhookEventType,
};
use axum::{
    Json,
    extract::State,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json, value::RawValue};
use std::{net::IpAddr, sync::atomic::Ordering};
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

pub use crate::domain::verify::VerifyCode;

/// The largest `cost` one verify may spend.
pub const MAX_COST: u64 = 1_000_000;

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
    #[schema(value_type = Option<Object>)]
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
    key_id: Option<&'a str>,
    organization_id: Option<&'a str>,
    project_id: Option<&'a str>,
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
            key_id: Some(&r.id),
            organization_id: Some(&r.organization_id),
            project_id: r.project_id.as_deref(),
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

/// The checks that need no state beyond the key record, in the order `docs/architecture.md#the-verify-path` gives.
fn static_checks(key: &CachedKey, ip: Option<IpAddr>, required: &[String], now: i64) -> VerifyCode {
    match key_unusable_reason(&key.record, now) {
        Some("revoked") => return VerifyCode::Revoked,
        Some("disabled") => return VerifyCode::Disabled,
        Some(_) => return VerifyCode::Expired,
        None => {}
    }
    if !key.ip_allowed(ip) {
        return VerifyCode::ForbiddenIp;
    }
    if !required.iter().all(|r| scope_granted(&key.scopes, r)) {
        return VerifyCode::InsufficientScopes;
    }
    VerifyCode::Valid
}

fn rate_limit_state(d: &Decision) -> RateLimitState {
    RateLimitState { limit: d.limit, remaining: d.remaining, reset_at: ms_to_time(d.reset_at_ms) }
}

/// Verify an API key
///
/// Answers 200 for every well-formed request; `valid` and `code` carry the
/// outcome. Keys of another organization (or, for a project key caller,
/// another project) answer exactly as a key that does not exist.
#[utoipa::path(post, path = "/v1/keys/verify", tag = "verification", operation_id = "verify_key",
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
    caller.require(Permission::KeysVerify)?;
    let ip = req
        .ip
        .as_deref()
        .map(|s| s.trim().parse::<IpAddr>().map_err(|_| ApiError::invalid_field("ip", "not an IP address")))
        .transpose()?;
    let cost = req.cost.unwrap_or(1);
    if cost > MAX_COST {
        return Err(ApiError::invalid_field("cost", format!("must be between 0 and {MAX_COST}")));
    }
    let required = req.required_scopes.as_deref().unwrap_or_default();
    let answer = |out: VerifyOut<'_>| {
        state.metrics.verify_outcome(out.code);
        Ok(Json(out).into_response())
    };

    // Shape and checksum: no I/O for typos and random strings — unless
    // imported keys exist, whose format may lack our checksum.
    let presented = req.key.trim();
    // An unknown key in our format is NOT_FOUND; an unknown foreign one stays MALFORMED.
    let (digest, unknown_code) = match keyfmt::parse(presented) {
        Some(parsed) => (keyfmt::key_digest(parsed.full), VerifyCode::NotFound),
        None if state.imported_keys.load(Ordering::Relaxed) && keyfmt::plausible_foreign_key(presented) => {
            (keyfmt::key_digest(presented), VerifyCode::Malformed)
        }
        None => return answer(VerifyOut::unknown(VerifyCode::Malformed)),
    };
    let Some(key) = state.keys.lookup_digest(digest).await? else {
        return answer(VerifyOut::unknown(unknown_code));
    };
    let record = &key.record;
    // Another tenant's key answers exactly as an unknown key of its format
    // would: nothing tells a caller that it exists elsewhere.
    if record.organization_id != caller.organization_id || !caller.can_see_project(record.project_id.as_deref()) {
        return answer(VerifyOut::unknown(unknown_code));
    }
    let now = state.config.clock.now_ms();
    let mut code = static_checks(&key, ip, required, now);

    // Rate limit: spends `cost` tokens only when everything above passed.
    let mut ratelimit = None;
    if let (Some(limit), Some(window)) = (record.rate_limit_limit, record.rate_limit_window_ms) {
        let (limit, window) = (limit as u64, window as u64);
        let decision = if code == VerifyCode::Valid {
            state.limiter.check(key.id, limit, window, cost, now)
        } else {
            state.limiter.peek(key.id, limit, window, now)
        };
        if !decision.allowed {
            code = VerifyCode::RateLimited;
        }
        ratelimit = Some(rate_limit_state(&decision));
    }

    // Quota: the only write on the hot path, and only for keys that have one.
    let mut remaining = None;
    if code == VerifyCode::Valid && record.usage_remaining.is_some() {
        match usage::spend_quota(&state.store, &record.id, cost as i64, now).await? {
            Spend::Spent(left) => remaining = Some(left.max(0) as u64),
            Spend::Exceeded(left) => {
                code = VerifyCode::UsageExceeded;
                remaining = Some(left as u64);
                announce_usage_exceeded(&state, record, now).await?;
            }
            Spend::NoQuota => {}
        }
    }

    state.usage.record_verify(key.id, code, now);
    let mut out = VerifyOut::for_key(&key, code, now);
    out.ratelimit = ratelimit;
    out.remaining = remaining;
    answer(out)
}

/// How often one process re-checks an exhausted key's once-per-period marker.
const USAGE_EXCEEDED_CLAIM_WINDOW_MS: i64 = 10_000;

/// `api_key.usage_exceeded`, once per quota period: the first refusal claims
/// the marker (off the hot path: only refused verifies get here).
/// The cache holds only what verify reads: the event gets the full stored
/// record, read in the claiming transaction.
async fn announce_usage_exceeded(state: &AppState, key: &crate::cache::KeyView, now: i64) -> ApiResult<()> {
    if !state.usage_exceeded_claims.should_try(&key.id, now, USAGE_EXCEEDED_CLAIM_WINDOW_MS) {
        return Ok(());
    }
    let mut tx = state.store.begin().await?;
    if crate::store::claim_usage_exceeded(&mut tx, &key.id, now).await?
        && let Some(key) = crate::store::get_key(&mut tx, &key.organization_id, &key.id).await?
    {
        let by = ChangedBy::System { organization_id: &key.organization_id, actor_id: "verify" };
        record_change(&mut tx, by, WebhookEventType::ApiKeyUsageExceeded, &key, json!({}), json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify_key))
}
