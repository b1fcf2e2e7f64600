//! Who is calling (DESIGN §4). An `Authorization: Bearer` or `x-api-key` token
//! that parses as a keyward key is an API key; its organization is the context
//! and its scopes gate the call. Session JWTs take the other branch.

use crate::{
    error::{ApiError, ApiResult, current_request_id},
    keyfmt,
    state::AppState,
    store::{AuditRecord, KeyRecord, now_ms},
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

/// What a caller may do. API-key scopes name these; `*` and `prefix:*` are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    KeysRead,
    KeysWrite,
    KeysVerify,
    OrgsAdmin,
    /// Change or revoke keys another user created (members manage only their own).
    KeysManageAll,
    ProjectsRead,
    ProjectsWrite,
    EnvironmentsRead,
    EnvironmentsWrite,
    AuditRead,
    MembersRead,
    MembersWrite,
    OrgRead,
    /// Update or delete the organization.
    OrgWrite,
}

impl Permission {
    pub fn scope(self) -> &'static str {
        match self {
            Self::KeysRead => "keys:read",
            Self::KeysWrite | Self::KeysManageAll => "keys:write",
            Self::KeysVerify => "keys:verify",
            // Orgs, members, projects, environments and audit (DESIGN §4).
            _ => "orgs:admin",
        }
    }

    /// What the permission lets one do, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::KeysRead => "read api keys",
            Self::KeysWrite => "create or change api keys",
            Self::KeysManageAll => "change api keys created by someone else",
            Self::KeysVerify => "verify api keys",
            Self::OrgsAdmin => "administer the organization",
            Self::ProjectsRead => "read projects",
            Self::ProjectsWrite => "create, change or delete projects",
            Self::EnvironmentsRead => "read environments",
            Self::EnvironmentsWrite => "create environments",
            Self::AuditRead => "read audit events",
            Self::MembersRead => "read members",
            Self::MembersWrite => "add, change or remove members",
            Self::OrgRead => "read the organization",
            Self::OrgWrite => "update or delete the organization",
        }
    }
}

/// Whether `granted` (a key's scopes) covers `required`. `*` covers all;
/// `keys:*` covers every scope that starts with `keys:`. A wildcard asked for
/// is covered only by itself or a wider one (`keys:*` by `keys:*` or `*`).
pub fn scope_granted<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    granted.iter().map(AsRef::as_ref).any(|g| {
        g == "*" || g == required || g.strip_suffix('*').is_some_and(|p| p.ends_with(':') && required.starts_with(p))
    })
}

/// keyward's own scopes: they gate keyward's API itself, so only a caller
/// that holds them may hand them out. Every other scope is the
/// application's, grantable by anyone allowed to write keys.
pub fn is_keyward_scope(scope: &str) -> bool {
    scope == "*" || scope.starts_with("keys:") || scope.starts_with("orgs:")
}

/// The keyward scopes of `requested` that `ceiling` does not cover.
pub fn ungrantable<'a, S: AsRef<str>>(ceiling: &[S], requested: &'a [String]) -> Vec<&'a str> {
    requested
        .iter()
        .map(String::as_str)
        .filter(|scope| is_keyward_scope(scope) && !scope_granted(ceiling, scope))
        .collect()
}

/// The address a request came from: the TCP peer, or — when the peer is a
/// proxy listed in `trusted_proxies` — the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy. Set once per
/// request by [`client_addr_layer`]; a key's `allowed_ips` and the audit log
/// both read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

pub fn resolve_client_addr(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    // Right to left: each hop was appended by the proxy in front of it; the
    // first untrusted one is the client as far as we can tell.
    for hop in forwarded_for.unwrap_or_default().rsplit(',').map(str::trim) {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

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
        role: crate::tenancy::Role,
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
            Actor::User { role, .. } if crate::tenancy::role_allows(*role, permission) => Ok(()),
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
    /// ([`crate::tenancy::role_scope_ceiling`]).
    pub fn require_grantable(&self, field: &str, scopes: &[String]) -> ApiResult<()> {
        let refused = match &self.actor {
            Actor::ApiKey { scopes: own, .. } => ungrantable(own, scopes),
            Actor::User { role, .. } => ungrantable(crate::tenancy::role_scope_ceiling(*role), scopes),
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
            Actor::User { role: crate::tenancy::Role::Owner, .. } => Ok(()),
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
            // Not a keyward key: a session JWT (DESIGN §4).
            let token = token.to_string();
            return crate::tenancy::session_caller(parts, state, &token).await;
        };
        let record = state
            .keys
            .lookup_digest(keyfmt::key_digest(parsed.full))
            .await?
            .ok_or_else(|| ApiError::unauthenticated("invalid API key"))?;
        crate::tenancy::note_auth_context(parts, &record.record.organization_id, "api_key", &record.record.id);
        let now = now_ms();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addr_trusts_only_listed_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Untrusted peer: its header is ignored.
        assert_eq!(resolve_client_addr(ip("192.0.2.9"), Some("198.51.100.1"), &proxies), ip("192.0.2.9"));
        // Trusted peer: the nearest untrusted hop.
        assert_eq!(
            resolve_client_addr(ip("10.0.0.2"), Some("198.51.100.1, 203.0.113.5, 10.0.0.7"), &proxies),
            ip("203.0.113.5")
        );
        // A garbled hop stops the walk at the last good one.
        assert_eq!(resolve_client_addr(ip("10.0.0.2"), Some("198.51.100.1, nonsense"), &proxies), ip("10.0.0.2"));
        assert_eq!(resolve_client_addr(ip("10.0.0.2"), None, &proxies), ip("10.0.0.2"));
        assert_eq!(resolve_client_addr(ip("10.0.0.2"), Some("198.51.100.1"), &[]), ip("10.0.0.2"));
    }

    #[test]
    fn ceiling_expands_wildcards() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ungrantable(&g(&["keys:write"]), &g(&["*", "keys:read", "billing:*", "keys:write"])),
            ["*", "keys:read"]
        );
        assert!(ungrantable(&g(&["keys:*"]), &g(&["keys:read", "keys:*", "app:x"])).is_empty());
        assert_eq!(ungrantable(&g(&["keys:*"]), &g(&["orgs:admin", "*"])), ["orgs:admin", "*"]);
        assert!(ungrantable(&g(&["*"]), &g(&["*", "orgs:admin"])).is_empty());
    }

    #[test]
    fn wildcards() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(scope_granted(&g(&["*"]), "keys:write"));
        assert!(scope_granted(&g(&["keys:*"]), "keys:write"));
        assert!(!scope_granted(&g(&["keys:*"]), "orgs:admin"));
        assert!(!scope_granted(&g(&["keys:read"]), "keys:write"));
        assert!(scope_granted(&g(&["keys:read"]), "keys:read"));
        assert!(!scope_granted(&g(&["key*"]), "keys:read"));
        assert!(!scope_granted(&g(&[]), "keys:read"));
    }
}
