//! Who is calling (`docs/architecture.md#authentication`). An `Authorization: Bearer` or `x-api-key` token
//! that parses as a keyward key is an API key; its organization is the context
//! and its scopes gate the call. Session JWTs take the other branch.

pub mod session;
pub mod tenancy;

pub use crate::domain::access::{Permission, is_keyward_scope, scope_granted, ungrantable};
pub use crate::domain::network::resolve_client_addr;
use crate::{
    error::{ApiError, ApiResult, current_request_id},
    keyfmt,
    state::AppState,
    store::{AuditRecord, KeyRecord},
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

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

#[derive(Debug, Clone)]
pub enum Actor {
    ApiKey {
        key_id: String,
        scopes: Arc<Vec<String>>,
    },
    /// A dashboard session (JWT `sub`) with its role in `Caller::organization_id`.
    User {
        user_id: String,
        role: crate::auth::tenancy::Role,
    },
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

impl RequestMeta {
    /// `event` with this request as its origin.
    pub fn stamp(&self, event: AuditRecord) -> AuditRecord {
        event.origin(self.ip.clone(), self.user_agent.clone(), Some(self.request_id.clone()))
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub organization_id: String,
    /// A project key sees and manages only its project.
    pub project_id: Option<String>,
    pub actor: Actor,
    pub meta: RequestMeta,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        match &self.actor {
            Actor::ApiKey { scopes, .. } if scope_granted(scopes, permission.scope()) => Ok(()),
            Actor::ApiKey { .. } => {
                Err(ApiError::forbidden(format!("this API key lacks the `{}` scope", permission.scope())))
            }
            Actor::User { role, .. } if crate::domain::access::role_allows(*role, permission) => Ok(()),
            Actor::User { role, .. } => {
                Err(ApiError::forbidden(format!("the `{role}` role cannot {}", permission.describe())))
            }
        }
    }

    /// May change or revoke a key created by `created_by_user_id`: members
    /// only their own keys, admins and owners any (API keys: `keys:write`).
    pub fn require_key_manage(&self, created_by_user_id: Option<&str>) -> ApiResult<()> {
        match &self.actor {
            Actor::User { user_id, .. } if created_by_user_id == Some(user_id.as_str()) => {
                self.require(Permission::KeysWrite)
            }
            Actor::User { .. } => self.require(Permission::KeysManageAll),
            Actor::ApiKey { .. } => self.require(Permission::KeysWrite),
        }
    }

    /// Organization-level management (members, the org itself, environments,
    /// audit) is not for a key confined to one project.
    pub fn require_org_level(&self, what: &str) -> ApiResult<()> {
        if self.project_id.is_some() {
            return Err(ApiError::forbidden(format!("a project key cannot {what}")));
        }
        Ok(())
    }

    /// The scopes this caller may hand out: a key's own, a session's role's
    /// ([`crate::auth::tenancy::role_scope_ceiling`]).
    pub fn require_grantable(&self, field: &str, scopes: &[String]) -> ApiResult<()> {
        let refused = match &self.actor {
            Actor::ApiKey { scopes: own, .. } => ungrantable(own, scopes),
            Actor::User { role, .. } => ungrantable(crate::domain::access::role_scope_ceiling(*role), scopes),
        };
        if refused.is_empty() {
            return Ok(());
        }
        let holder = match &self.actor {
            Actor::ApiKey { .. } => "this API key".to_string(),
            Actor::User { role, .. } => format!("the `{role}` role"),
        };
        Err(ApiError::InsufficientScope(format!(
            "{field}: {holder} cannot grant {}: a caller can only grant keyward scopes it holds itself",
            refused.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        )))
    }

    /// Owner-level acts (making or unmaking an owner, deleting the
    /// organization): an owner session or a `*` key.
    pub fn require_owner_level(&self, what: &str) -> ApiResult<()> {
        match &self.actor {
            Actor::User { role: crate::auth::tenancy::Role::Owner, .. } => Ok(()),
            Actor::ApiKey { scopes, .. } if scopes.iter().any(|s| s == "*") => Ok(()),
            Actor::ApiKey { .. } => Err(ApiError::InsufficientScope(format!("only a `*` key or an owner can {what}"))),
            Actor::User { role, .. } => Err(ApiError::forbidden(format!("the `{role}` role cannot {what}"))),
        }
    }

    /// `source` recorded on keys this caller creates.
    pub fn key_source(&self) -> &'static str {
        match self.actor {
            Actor::ApiKey { .. } => "api",
            Actor::User { .. } => "dashboard",
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match &self.actor {
            Actor::ApiKey { .. } => None,
            Actor::User { user_id, .. } => Some(user_id),
        }
    }

    /// Whether this caller may see an object of `project_id`.
    pub fn can_see_project(&self, project_id: Option<&str>) -> bool {
        match &self.project_id {
            None => true,
            Some(own) => project_id == Some(own.as_str()),
        }
    }

    /// An audit event performed by this caller.
    pub fn audit(&self, action: &str, target_type: &str, target_id: &str, changes: serde_json::Value) -> AuditRecord {
        let (actor_type, actor_id) = match &self.actor {
            Actor::ApiKey { key_id, .. } => ("api_key", key_id.as_str()),
            Actor::User { user_id, .. } => ("user", user_id.as_str()),
        };
        self.meta.stamp(
            AuditRecord::new(&self.organization_id, actor_type, actor_id, action, target_type, target_id)
                .changes(changes),
        )
    }
}

/// The bearer token or `x-api-key` value, if any.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The lifecycle fields of a stored key (a [`KeyRecord`] or its cached view).
pub trait KeyLifecycle {
    fn revoked_at(&self) -> Option<i64>;
    fn is_active(&self) -> bool;
    fn expires_at(&self) -> Option<i64>;
}

impl KeyLifecycle for KeyRecord {
    fn revoked_at(&self) -> Option<i64> {
        self.revoked_at
    }
    fn is_active(&self) -> bool {
        self.is_active != 0
    }
    fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
}

/// Why a stored key cannot be used right now, if it cannot.
pub fn key_unusable_reason(key: &impl KeyLifecycle, now: i64) -> Option<&'static str> {
    if key.revoked_at().is_some_and(|at| at <= now) {
        Some("revoked")
    } else if !key.is_active() {
        Some("disabled")
    } else if key.expires_at().is_some_and(|at| at <= now) {
        Some("expired")
    } else {
        None
    }
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
        crate::auth::tenancy::note_auth_context(parts, &record.record.organization_id, "api_key", &record.record.id);
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
            organization_id: record.record.organization_id.to_string(),
            project_id: record.record.project_id.as_deref().map(str::to_string),
            actor: Actor::ApiKey { key_id: record.record.id.to_string(), scopes: record.scopes.clone() },
            meta: request_meta(parts),
        })
    }
}
