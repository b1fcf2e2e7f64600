//! Who is calling (`docs/architecture.md#authentication`). An `Authorization: Bearer` or `x-api-key` token
//! that parses as a keyward key is an API key; its organization is the context
//! and its scopes gate the call. Session JWTs take the other branch.

pub mod tenancy;

pub use crate::app::caller::{Actor, Caller, RequestMeta};
pub use crate::domain::access::{Permission, is_keyward_scope, scope_granted, ungrantable};
pub use crate::domain::keys::{KeyLifecycle, key_unusable_reason};
pub use crate::domain::network::resolve_client_addr;
use crate::{
    app::AppState,
    error::{ApiError, current_request_id},
    keyfmt,
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use std::net::{IpAddr, SocketAddr};

/// The address a request came from: the TCP peer, or — when the peer is a
/// proxy listed in `trusted_proxies` — the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy. Set once per
/// request by [`client_addr_layer`]; a key's `allowed_ips` and the audit log
/// both read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Middleware: resolves [`ClientAddr`] for everything below it.
pub async fn client_addr_layer(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let forwarded = if state.config.trusted_proxies.is_empty() {
            None
        } else {
            request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok())
        };
        let addr = resolve_client_addr(peer.ip(), forwarded, &state.config.trusted_proxies);
        request.extensions_mut().insert(ClientAddr(addr));
    }
    next.run(request).await
}

/// The bearer token or `x-api-key` value, if any.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The one route where the caller's own rate limit does not apply.
const VERIFY_PATH: &str = "/v1/keys/verify";

pub(crate) fn request_meta(parts: &Parts) -> RequestMeta {
    RequestMeta {
        ip: parts.extensions.get::<ClientAddr>().map(|ClientAddr(addr)| addr.to_string()),
        user_agent: parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        request_id: current_request_id(),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // Authenticated once already (the idempotency layer authenticates
        // before it replays): the same caller, not a second rate-limit charge.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token = presented_token(&parts.headers).filter(|t| !t.is_empty()).ok_or_else(|| {
            ApiError::unauthenticated("missing credentials: send `Authorization: Bearer <key>` or `x-api-key: <key>`")
        })?;
        let Some(parsed) = keyfmt::parse(token) else {
            // Not a keyward key: a session JWT.
            let token = token.to_string();
            return crate::auth::tenancy::session_caller(parts, state, &token).await;
        };
        let record = state
            .keys
            .lookup_digest(keyfmt::key_digest(parsed.full))
            .await?
            .ok_or_else(|| ApiError::unauthenticated("invalid API key"))?;
        crate::auth::tenancy::note_auth_context(
            parts,
            record.record.organization_id,
            "api_key",
            &record.record.id.to_string(),
        );
        let now = state.config.clock.now_ms();
        if let Some(reason) = key_unusable_reason(&record.record, now) {
            return Err(ApiError::unauthenticated(format!("API key is {reason}")));
        }
        // `allowed_ips` binds the key wherever it is presented, not only in verify.
        let client = parts.extensions.get::<ClientAddr>().map(|ClientAddr(ip)| *ip);
        if !record.ip_allowed(client) {
            let shown = client.map_or_else(|| "an unknown address".to_string(), |ip| ip.to_string());
            return Err(ApiError::IpNotAllowed(shown));
        }
        // The caller's own `rate_limit` gates the management API; verify is
        // exempt (it reports the verified key's limits instead).
        if let (Some(limit), Some(window)) = (record.record.rate_limit_limit, record.record.rate_limit_window_ms)
            && parts.uri.path() != VERIFY_PATH
        {
            let d = state.limiter.check(record.id, limit as u64, window as u64, 1, now);
            if !d.allowed {
                return Err(ApiError::RateLimited {
                    message: format!("rate limit of {limit} requests per {window} ms exceeded for this API key"),
                    retry_after_secs: d.retry_after_secs(),
                    limit: d.limit,
                    remaining: d.remaining,
                    reset_at_unix: (d.reset_at_ms + 999) / 1000,
                });
            }
        }
        state.usage.record_use(record.id, now);
        Ok(Caller {
            organization_id: record.record.organization_id,
            project_id: record.record.project_id,
            actor: Actor::ApiKey { key_id: record.record.id, scopes: record.scopes.clone() },
            meta: request_meta(parts),
        })
    }
}
