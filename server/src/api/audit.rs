//! `GET /v1/audit-events` (the HTTP face of `app/audit.rs`: the query, the
//! event as shown, the handler) and the middleware that records refused
//! management calls (401/403) as audit events when the organization is known
//! — HTTP itself, since it reads the response a request got.

use super::{PageQuery, list_response};
use crate::{
    app::AppState,
    app::audit::{AuditEventFilter, list_audit_events as list_events},
    auth::tenancy::AuthSlot,
    auth::{Caller, ClientAddr},
    domain::time::ms_to_time,
    error::{ApiError, ApiResult, ErrorBody},
    extract::ApiQuery,
    store::{self, AuditRecord},
};
use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

const TAG: &str = "audit-events";

/// Who performed an action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditActor {
    /// `user`, `api_key` or `system`.
    #[serde(rename = "type")]
    pub actor_type: String,
    /// The user id (JWT `sub`) or the API key id.
    pub id: String,
}

/// What an action was performed on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditTarget {
    /// `api_key`, `organization`, `user` (a membership), `project`, `environment` or `route`.
    #[serde(rename = "type")]
    pub target_type: String,
    pub id: String,
}

/// One append-only audit record. Never holds a plaintext key or a token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", "organization_id": "0193a3c1-0000-7000-8000-000000000001",
    "actor": {"type": "user", "id": "user_2abc"}, "action": "api_key.revoked",
    "target": {"type": "api_key", "id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f71"},
    "ip": "203.0.113.7", "user_agent": "curl/8.5.0", "request_id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f72",
    "created_at": "2026-11-23T12:00:00Z", "changes": {"before": {"name": "billing worker"}}, "count": 1
}))]
pub struct AuditEvent {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub actor: AuditActor,
    /// E.g. `api_key.created`, `member.added`, `organization.deleted`, `auth.denied`.
    pub action: String,
    pub target: AuditTarget,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    #[schema(schema_with = crate::app::validate::audit_changes_schema)]
    pub changes: Map<String, Value>,
    /// How many times it happened: failed or denied authentication
    /// (`auth.failed`, `auth.denied`) is one event per credential, address
    /// and minute with a count; every other event is 1.
    pub count: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListAuditEventsQuery {
    /// Only this action, e.g. `api_key.revoked`.
    pub action: Option<String>,
    /// Only events by this actor (user id or API key id).
    pub actor_id: Option<String>,
    /// Only events on this target id.
    pub target_id: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor: the id of the last event of the previous page (from `X-Next-Cursor`).
    pub starting_after: Option<Uuid>,
}

impl From<&AuditRecord> for AuditEvent {
    fn from(e: &AuditRecord) -> Self {
        AuditEvent {
            id: e.id.uuid(),
            organization_id: e.organization_id.uuid(),
            actor: AuditActor { actor_type: e.actor_type.clone(), id: e.actor_id.clone() },
            action: e.action.clone(),
            target: AuditTarget { target_type: e.target_type.clone(), id: e.target_id.clone() },
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            created_at: ms_to_time(e.created_at),
            changes: serde_json::from_str(&e.changes).unwrap_or_default(),
            count: e.repeat_count,
        }
    }
}

/// List audit events
///
/// Newest first. Admins and owners, or an `orgs:admin` key.
#[utoipa::path(get, path = "/v1/audit-events", tag = TAG, operation_id = "list_audit_events",
    params(ListAuditEventsQuery),
    responses(
        (status = 200, description = "A page of audit events", body = Vec<AuditEvent>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an admin / missing the `orgs:admin` scope, or a project key", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListAuditEventsQuery>,
) -> ApiResult<Response> {
    let filter = AuditEventFilter {
        action: q.action.clone(),
        actor_id: q.actor_id.clone(),
        target_id: q.target_id.clone(),
        since: q.since,
        until: q.until,
    };
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = list_events(&state, &caller, &filter, &page_query).await?.map(AuditEvent::from);
    let mut extra = Vec::new();
    for (name, value) in [("action", &q.action), ("actor_id", &q.actor_id), ("target_id", &q.target_id)] {
        if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
            extra.push((name, v.clone()));
        }
    }
    if let Some(t) = q.since {
        extra.push(("since", t.to_rfc3339()));
    }
    if let Some(t) = q.until {
        extra.push(("until", t.to_rfc3339()));
    }
    Ok(list_response("/v1/audit-events", page, q.limit, &extra))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

/// Largest error body read back to copy its message into the audit event.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Middleware, on every `/v1/` route: a client address whose requests failed
/// authentication `auth_failure_limit` times within a minute is answered 429
/// (with `Retry-After`) before any credential is looked at; and a 401/403 on
/// a management route (every `/v1/` route but verify) is appended to the
/// audit log as `auth.failed`/`auth.denied` when the extractor learned the
/// organization (a revoked key, a refused role or scope) — one row per
/// credential, address and minute, counting repeats, so a key refused in a
/// loop costs O(minutes) rows. The reason is the error message, which never
/// holds a key or a token.
pub async fn record_auth_failures(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/v1/") {
        return next.run(request).await;
    }
    let client = request.extensions().get::<ClientAddr>().map(|ClientAddr(ip)| *ip);
    let throttle = AuthFailureThrottle::new(&state, client);
    if let Some(refusal) = throttle.as_ref().and_then(AuthFailureThrottle::refusal) {
        return refusal;
    }
    if path == "/v1/keys/verify" {
        let response = next.run(request).await;
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(throttle) = &throttle
        {
            throttle.count_failure();
        }
        return response;
    }
    let path = path.to_string();
    let slot = AuthSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().to_string();
    let ip = client.map(|ip| ip.to_string());
    let user_agent = request
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect::<String>());
    let response = next.run(request).await;
    let status = response.status();
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return response;
    }
    if status == StatusCode::UNAUTHORIZED
        && let Some(throttle) = &throttle
    {
        throttle.count_failure();
    }
    let Some(ctx) = slot.take() else { return response };
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let reason = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v["error"].as_str().map(str::to_string));
    let action = if status == StatusCode::UNAUTHORIZED { "auth.failed" } else { "auth.denied" };
    let event = AuditRecord::new(
        ctx.organization_id,
        ctx.actor_type,
        ctx.actor_id,
        action,
        "route",
        format!("{method} {path}"),
    )
    .origin(ip, user_agent, Some(crate::error::current_request_id()))
    .changes(json!({"status": status.as_u16(), "reason": reason}));
    let minute = event.created_at / 60_000;
    let aggregation_key = hex::encode(Sha256::digest(
        format!(
            "{}\0{action}\0{}\0{}\0{}\0{minute}",
            event.organization_id,
            event.actor_type,
            event.actor_id,
            event.ip.as_deref().unwrap_or("")
        )
        .as_bytes(),
    ));
    match state.store.pool().acquire().await {
        Ok(mut conn) => {
            if let Err(err) = store::insert_or_count_audit(&mut conn, &event, &aggregation_key).await {
                tracing::warn!(error = %err, "recording an auth failure in the audit log failed");
            }
        }
        Err(err) => tracing::warn!(error = %err, "recording an auth failure in the audit log failed"),
    }
    Response::from_parts(parts, Body::from(bytes)).into_response()
}

/// Failed authentications of one client address, in a limiter of their own
/// (`AppState::auth_failures`) keyed by the address itself: no hashing on
/// the path every request takes, and no way to aim at a key's bucket.
struct AuthFailureThrottle<'a> {
    state: &'a AppState,
    id: u128,
    limit: u64,
}

const AUTH_FAILURE_WINDOW_MS: u64 = 60_000;

impl<'a> AuthFailureThrottle<'a> {
    fn new(state: &'a AppState, client: Option<std::net::IpAddr>) -> Option<Self> {
        let limit = state.config.auth_failure_limit;
        let client = client?;
        if limit == 0 {
            return None;
        }
        let id = match client {
            std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            std::net::IpAddr::V6(v6) => u128::from(v6),
        };
        Some(Self { state, id, limit })
    }

    fn refusal(&self) -> Option<Response> {
        let now = store::now_ms();
        let decision = self.state.auth_failures.peek(self.id, self.limit, AUTH_FAILURE_WINDOW_MS, now);
        if decision.remaining > 0 {
            return None;
        }
        // One more failure is forgiven every window ÷ limit.
        let retry_after_secs = (AUTH_FAILURE_WINDOW_MS / self.limit).div_ceil(1000).max(1);
        Some(
            ApiError::RateLimited {
                message: format!(
                    "too many failed authentications from this address: at most {} a minute; retry in {retry_after_secs} s",
                    self.limit
                ),
                retry_after_secs,
                limit: self.limit,
                remaining: 0,
                reset_at_unix: (decision.reset_at_ms + 999) / 1000,
            }
            .into_response(),
        )
    }

    fn count_failure(&self) {
        self.state.auth_failures.check(self.id, self.limit, AUTH_FAILURE_WINDOW_MS, 1, store::now_ms());
    }
}
