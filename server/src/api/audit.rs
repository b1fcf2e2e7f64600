//! `GET /v1/audit-events` and the middleware that records refused management
//! calls (401/403) as audit events when the organization is known.

use super::{Page, PageQuery, api_keys::ms_to_time, pagination_headers};
use crate::{
    auth::{Caller, Permission},
    error::{ApiResult, ErrorBody},
    extract::ApiQuery,
    state::AppState,
    store::{self, AuditRecord},
    tenancy::AuthSlot,
};
use axum::{
    Json,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

const TAG: &str = "audit";

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
    "created_at": "2026-11-23T12:00:00Z", "changes": {"before": {"name": "billing worker"}}
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
    /// A before/after summary of the change.
    #[schema(value_type = Object)]
    pub changes: Map<String, Value>,
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
            id: Uuid::parse_str(&e.id).unwrap_or_default(),
            organization_id: Uuid::parse_str(&e.organization_id).unwrap_or_default(),
            actor: AuditActor { actor_type: e.actor_type.clone(), id: e.actor_id.clone() },
            action: e.action.clone(),
            target: AuditTarget { target_type: e.target_type.clone(), id: e.target_id.clone() },
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            created_at: ms_to_time(e.created_at),
            changes: serde_json::from_str(&e.changes).unwrap_or_default(),
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
    caller.require(Permission::AuditRead)?;
    caller.require_org_level("read audit events")?;
    let limit = PageQuery { limit: q.limit, starting_after: q.starting_after }.limit()?;
    let after = q.starting_after.map(|u| u.to_string());
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_audit(
        &mut conn,
        &store::AuditFilter {
            organization_id: &caller.organization_id,
            action: q.action.as_deref().filter(|s| !s.is_empty()),
            actor_id: q.actor_id.as_deref().filter(|s| !s.is_empty()),
            target_id: q.target_id.as_deref().filter(|s| !s.is_empty()),
            since: q.since.map(|t| t.timestamp_millis()),
            until: q.until.map(|t| t.timestamp_millis()),
            starting_after: after.as_deref(),
            limit: limit + 1,
        },
    )
    .await?;
    let page = Page::from_rows(rows.iter().map(AuditEvent::from).collect(), limit, |e| e.id.to_string());
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
    let headers = pagination_headers("/v1/audit-events", page.next_cursor.as_deref(), q.limit, &extra);
    Ok((headers, Json(page.items)).into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

/// Largest error body read back to copy its message into the audit event.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Middleware: a 401/403 on a management route (`/v1/…` except verify) is
/// appended to the audit log as `auth.failed`/`auth.denied` when the extractor
/// learned the organization (a revoked key, a refused role or scope). The
/// reason is the error message, which never holds a key or a token.
pub async fn record_auth_failures(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/v1/") || path == "/v1/keys/verify" {
        return next.run(request).await;
    }
    let path = path.to_string();
    let slot = AuthSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().to_string();
    let ip = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(addr)| addr.ip().to_string());
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
    let Some(ctx) = slot.take() else { return response };
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let reason = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v["error"].as_str().map(str::to_string));
    let action = if status == StatusCode::UNAUTHORIZED { "auth.failed" } else { "auth.denied" };
    let event = AuditRecord::new(ctx.organization_id, ctx.actor_type, ctx.actor_id, action, "route", format!("{method} {path}"))
        .origin(ip, user_agent, Some(crate::error::current_request_id()))
        .changes(json!({"status": status.as_u16(), "reason": reason}));
    match state.store.pool().acquire().await {
        Ok(mut conn) => {
            if let Err(err) = store::insert_audit(&mut conn, &event).await {
                tracing::warn!(error = %err, "recording an auth failure in the audit log failed");
            }
        }
        Err(err) => tracing::warn!(error = %err, "recording an auth failure in the audit log failed"),
    }
    Response::from_parts(parts, Body::from(bytes)).into_response()
}
