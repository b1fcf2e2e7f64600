//! `/v1/webhook-deliveries`: every event's delivery to each destination, its
//! attempts and outcome; dead-lettered (`failed`) deliveries can be sent again.
//! The HTTP face of the delivery use cases in `app/webhooks.rs`: the query,
//! handlers, router.

use super::{PageQuery, list_response};

const TAG: &str = "webhook-deliveries";
use crate::{
    app::AppState,
    app::webhooks::{self, DeliveryFilter},
    auth::Caller,
    error::{ApiResult, ErrorBody},
    extract::{ApiQuery, IdPath},
    webhooks::WebhookEventType,
};
use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use crate::app::webhooks::{WebhookDelivery, WebhookDeliveryStatus};

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

/// List webhook deliveries
///
/// Newest first, filtered by endpoint, key, event type or status (`failed`: the dead-lettered ones).
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
    let filter = DeliveryFilter {
        endpoint_id: q.endpoint_id,
        api_key_id: q.api_key_id,
        event_type: q.event_type,
        status: q.status,
    };
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = webhooks::list_deliveries(&state, &caller, &filter, &page_query).await?;
    let mut extra = Vec::new();
    if let Some(e) = q.endpoint_id {
        extra.push(("endpoint_id", e.to_string()));
    }
    if let Some(k) = q.api_key_id {
        extra.push(("api_key_id", k.to_string()));
    }
    if let Some(t) = q.event_type {
        extra.push(("event_type", t.as_str().to_string()));
    }
    if let Some(s) = q.status {
        extra.push(("status", s.as_str().to_string()));
    }
    Ok(list_response("/v1/webhook-deliveries", page, q.limit, &extra))
}

/// Get a webhook delivery
///
/// The delivery's signed payload, its status and the outcome of its last attempt.
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
    Ok(Json(webhooks::get_delivery(&state, &caller, id).await?))
}

/// Redeliver a webhook
///
/// Queues the delivery again now, with the same `webhook-id` and a fresh
/// retry schedule. A delivery still pending is simply attempted now.
#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/redeliver", tag = TAG, operation_id = "redeliver_webhook_delivery",
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
    Ok((StatusCode::ACCEPTED, Json(webhooks::redeliver(&state, &caller, id).await?)))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(get_webhook_delivery))
        .routes(routes!(redeliver_webhook))
}
