//! Verifying a presented key: the hot path (`docs/architecture.md#the-verify-path`).
//! Every well-formed request has an outcome ([`VerifyCode`]); only a bad
//! field or a store failure is an error. The order of the checks is the
//! documented one: shape and checksum (no I/O), the cache, tenancy, the
//! static checks, the rate limit, then the quota — the only write, and only
//! for keys that have one.

use crate::{
    app::{
        AppState,
        caller::Caller,
        keys::{ChangedBy, record_change},
    },
    cache::{CachedKey, KeyRef, KeyView},
    domain::{
        access::{Permission, scope_granted},
        keys::key_unusable_reason,
        verify::VerifyCode,
    },
    error::{ApiError, ApiResult},
    keyfmt,
    ratelimit::Decision,
    store,
    usage::{self, Spend},
    webhooks::WebhookEventType,
};
use serde_json::json;
use std::{net::IpAddr, sync::atomic::Ordering};

/// The largest `cost` one verify may spend.
pub const MAX_COST: u64 = 1_000_000;

/// How often one process re-checks an exhausted key's once-per-period marker.
const USAGE_EXCEEDED_CLAIM_WINDOW_MS: i64 = 10_000;

/// What a caller asks: is `key` usable from `ip` for `required_scopes`, spending `cost`.
pub struct VerifyInput<'a> {
    pub key: &'a str,
    pub ip: Option<&'a str>,
    pub required_scopes: &'a [String],
    pub cost: Option<u64>,
}

/// The outcome: the code, the key when it is one the caller may see (the
/// cached entry, so the answer borrows instead of copying), its rate-limit
/// state and the credits left.
pub struct Verification {
    pub code: VerifyCode,
    pub key: Option<KeyRef>,
    pub ratelimit: Option<Decision>,
    pub remaining: Option<u64>,
    /// The instant the checks ran at (the grace period is shown relative to it).
    pub now: i64,
}

impl Verification {
    fn unknown(code: VerifyCode, now: i64) -> Self {
        Verification { code, key: None, ratelimit: None, remaining: None, now }
    }
}

/// Verify a presented key for `caller` (which needs `keys:verify`).
pub async fn verify(state: &AppState, caller: &Caller, input: VerifyInput<'_>) -> ApiResult<Verification> {
    caller.require(Permission::KeysVerify)?;
    let ip = input
        .ip
        .map(|s| s.trim().parse::<IpAddr>().map_err(|_| ApiError::invalid_field("ip", "not an IP address")))
        .transpose()?;
    let cost = input.cost.unwrap_or(1);
    if cost > MAX_COST {
        return Err(ApiError::invalid_field("cost", format!("must be between 0 and {MAX_COST}")));
    }
    let outcome = check(state, caller, input.key.trim(), ip, input.required_scopes, cost).await?;
    state.metrics.verify_outcome(outcome.code);
    Ok(outcome)
}

async fn check(
    state: &AppState,
    caller: &Caller,
    presented: &str,
    ip: Option<IpAddr>,
    required: &[String],
    cost: u64,
) -> ApiResult<Verification> {
    let now = state.config.clock.now_ms();
    // Shape and checksum: no I/O for typos and random strings — unless
    // imported keys exist, whose format may lack our checksum.
    // An unknown key in our format is NOT_FOUND; an unknown foreign one stays MALFORMED.
    let (digest, unknown_code) = match keyfmt::parse(presented) {
        Some(parsed) => (keyfmt::key_digest(parsed.full), VerifyCode::NotFound),
        None if state.imported_keys.load(Ordering::Relaxed) && keyfmt::plausible_foreign_key(presented) => {
            (keyfmt::key_digest(presented), VerifyCode::Malformed)
        }
        None => return Ok(Verification::unknown(VerifyCode::Malformed, now)),
    };
    let Some(key) = state.keys.lookup_digest(digest).await? else {
        return Ok(Verification::unknown(unknown_code, now));
    };
    let record = &key.record;
    // Another tenant's key answers exactly as an unknown key of its format
    // would: nothing tells a caller that it exists elsewhere.
    if record.organization_id != caller.organization_id || !caller.can_see_project(record.project_id) {
        return Ok(Verification::unknown(unknown_code, now));
    }
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
        ratelimit = Some(decision);
    }

    // Quota: the only write on the hot path, and only for keys that have one.
    let mut remaining = None;
    if code == VerifyCode::Valid && record.usage_remaining.is_some() {
        match usage::spend_quota(&state.store, &record.id, cost as i64, now).await? {
            Spend::Spent(left) => remaining = Some(left.max(0) as u64),
            Spend::Exceeded(left) => {
                code = VerifyCode::UsageExceeded;
                remaining = Some(left as u64);
                announce_usage_exceeded(state, record, now).await?;
            }
            Spend::NoQuota => {}
        }
    }

    state.usage.record_verify(key.id, code, now);
    Ok(Verification { code, key: Some(key), ratelimit, remaining, now })
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

/// `api_key.usage_exceeded`, once per quota period: the first refusal claims
/// the marker (off the hot path: only refused verifies get here).
/// The cache holds only what verify reads: the event gets the full stored
/// record, read in the claiming transaction.
async fn announce_usage_exceeded(state: &AppState, key: &KeyView, now: i64) -> ApiResult<()> {
    if !state.usage_exceeded_claims.should_try(key.id, now, USAGE_EXCEEDED_CLAIM_WINDOW_MS) {
        return Ok(());
    }
    let mut tx = state.store.begin().await?;
    if store::claim_usage_exceeded(&mut tx, &key.id, now).await?
        && let Some(key) = store::get_key(&mut tx, &key.organization_id, &key.id).await?
    {
        let by = ChangedBy::System { organization_id: key.organization_id, actor_id: "verify" };
        record_change(&mut tx, by, WebhookEventType::ApiKeyUsageExceeded, &key, json!({}), json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}
