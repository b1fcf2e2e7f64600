//! `/v1/webhook-deliveries`: every event's delivery to each destination, its
//! attempts and outcome; dead-lettered (`failed`) deliveries can be sent again.

use super::{
    Page, PageQuery,
    api_keys::ms_to_time,
    pagination_headers,
    webhook_endpoints::{TAG, require_admin},
};
use crate::{
    app::AppState,
    auth::Caller,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiQuery, IdPath},
    store::{self, WebhookDeliveryRecord, now_ms},
    webhooks::WebhookEventType,
};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every retry failed: dead-lettered until redelivered.
    Failed,
}

impl WebhookDeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => store::DELIVERY_PENDING,
            Self::Succeeded => store::DELIVERY_SUCCEEDED,
            Self::Failed => store::DELIVERY_FAILED,
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            store::DELIVERY_SUCCEEDED => Self::Succeeded,
            store::DELIVERY_FAILED => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One event on its way to one destination.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    pub id: Uuid,
    /// The `webhook-id` header: the same on every attempt (receivers deduplicate by it).
    pub event_id: String,
    pub event_type: WebhookEventType,
    /// The endpoint, or null for a key's own `rotation_webhook_url`.
    pub endpoint_id: Option<Uuid>,
    /// The key whose `rotation_webhook_url` this goes to, for such deliveries.
    pub api_key_id: Option<Uuid>,
    pub url: String,
    pub status: WebhookDeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// HTTP status of the last attempt; null when it got no answer.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The signed body: `{type, timestamp, data}`.
    #[schema(value_type = Object)]
    pub payload: Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListWebhookDeliveriesQuery {
    pub endpoint_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub event_type: Option<WebhookEventType>,
    pub status: Option<WebhookDeliveryStatus>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor from `X-Next-Cursor`.
    pub starting_after: Option<Uuid>,
}

fn delivery(d: &WebhookDeliveryRecord, payload: Option<&str>) -> WebhookDelivery {
    let uuid = |s: &str| Uuid::parse_str(s).unwrap_or_default();
    WebhookDelivery {
        id: uuid(&d.id),
        event_id: d.event_id.clone(),
        event_type: WebhookEventType::parse(&d.event_type).unwrap_or(WebhookEventType::ApiKeyUpdated),
        endpoint_id: d.endpoint_id.as_deref().map(uuid),
        api_key_id: d.api_key_id.as_deref().map(uuid),
        url: d.url.clone(),
        status: WebhookDeliveryStatus::parse(&d.status),
        attempts: d.attempts as u32,
        next_attempt_at: d.next_attempt_at.map(ms_to_time),
        last_attempt_at: d.last_attempt_at.map(ms_to_time),
        last_status_code: d.last_status_code.map(|c| c as u16),
        last_error: d.last_error.clone(),
        delivered_at: d.delivered_at.map(ms_to_time),
        created_at: ms_to_time(d.created_at),
        // Events outlive their deliveries (the purge deletes deliveries first), so this is always found.
        payload: payload.and_then(|p| serde_json::from_str(p).ok()).unwrap_or_else(|| json!({})),
    }
}

async fn with_payloads(conn: &mut store::Conn, rows: &[WebhookDeliveryRecord]) -> ApiResult<Vec<WebhookDelivery>> {
    let mut ids: Vec<&str> = rows.iter().map(|d| d.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let payloads = store::webhook_event_payloads(conn, &ids).await?;
    Ok(rows.iter().map(|d| delivery(d, payloads.get(&d.event_id).map(String::as_str))).collect())
}

async fn load_delivery(conn: &mut store::Conn, caller: &Caller, id: Uuid) -> ApiResult<WebhookDeliveryRecord> {
    store::get_webhook_delivery(conn, &caller.organization_id, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("webhook delivery"))
}

/// List webhook deliveries
#[utoipa::path(get, path = "/v1/webhook-deliveries", tag = TAG, operation_id = "list_webhook_deliveries",
    params(ListWebhookDeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = Vec<WebhookDelivery>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListWebhookDeliveriesQuery>,
) -> ApiResult<Response> {
    require_admin(&caller)?;
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let limit = page_query.limit()?;
    let (endpoint_id, api_key_id, after) = (
        q.endpoint_id.map(|u| u.to_string()),
        q.api_key_id.map(|u| u.to_string()),
        q.starting_after.map(|u| u.to_string()),
    );
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_webhook_deliveries(
        &mut conn,
        &store::DeliveryFilter {
            organization_id: &caller.organization_id,
            endpoint_id: endpoint_id.as_deref(),
            api_key_id: api_key_id.as_deref(),
            event_type: q.event_type.map(WebhookEventType::as_str),
            status: q.status.map(WebhookDeliveryStatus::as_str),
            starting_after: after.as_deref(),
            limit: limit + 1,
        },
    )
    .await?;
    let items = with_payloads(&mut conn, &rows).await?;
    let page = Page::from_rows(items, limit, |d| d.id.to_string());
    let mut extra = Vec::new();
    if let Some(e) = &endpoint_id {
        extra.push(("endpoint_id", e.clone()));
    }
    if let Some(k) = &api_key_id {
        extra.push(("api_key_id", k.clone()));
    }
    if let Some(t) = q.event_type {
        extra.push(("event_type", t.as_str().to_string()));
    }
    if let Some(s) = q.status {
        extra.push(("status", s.as_str().to_string()));
    }
    let headers = pagination_headers("/v1/webhook-deliveries", page.next_cursor.as_deref(), q.limit, &extra);
    Ok((headers, Json(page.items)).into_response())
}

/// Get a webhook delivery
#[utoipa::path(get, path = "/v1/webhook-deliveries/{id}", tag = TAG, operation_id = "get_webhook_delivery",
    params(("id" = Uuid, Path, description = "Webhook delivery id")),
    responses(
        (status = 200, description = "The delivery", body = WebhookDelivery),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 404, description = "No such delivery in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_webhook_delivery(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<WebhookDelivery>> {
    require_admin(&caller)?;
    let mut conn = state.store.pool().acquire().await?;
    let d = load_delivery(&mut conn, &caller, id).await?;
    let payload = store::webhook_event_payload(&mut conn, &d.event_id).await?;
    Ok(Json(delivery(&d, payload.as_deref())))
}

/// Redeliver a webhook
///
/// Queues the delivery again now, with the same `webhook-id` and a fresh
/// retry schedule. A delivery still pending is simply attempted now.
#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/redeliver", tag = TAG, operation_id = "redeliver_webhook",
    params(("id" = Uuid, Path, description = "Webhook delivery id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 202, description = "Queued", body = WebhookDelivery),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 404, description = "No such delivery in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn redeliver_webhook(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    require_admin(&caller)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let before = load_delivery(&mut tx, &caller, id).await?;
    store::requeue_webhook_delivery(&mut tx, &before.id, now).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "webhook_delivery.redelivered",
            "webhook_delivery",
            &before.id,
            json!({"event_id": before.event_id}),
        ),
    )
    .await?;
    let after = load_delivery(&mut tx, &caller, id).await?;
    let payload = store::webhook_event_payload(&mut tx, &after.event_id).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(delivery(&after, payload.as_deref()))))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(get_webhook_delivery))
        .routes(routes!(redeliver_webhook))
}
