//! `/v1/webhook-endpoints`: where an organization's key events are delivered,
//! with event filters and a signing secret shown once; and
//! `/v1/webhook-signing-secret`, the organization's secret for deliveries to
//! keys' own `rotation_webhook_url`. The HTTP face of the use cases in
//! `app/webhooks.rs`: request bodies and their mapping, the responses that
//! carry a secret once, handlers, router.

use super::{PageQuery, list_response, nullable};
use crate::{
    app::AppState,
    app::webhooks::{self, NewWebhookEndpoint, WebhookEndpointChanges},
    auth::Caller,
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath},
    webhooks::WebhookEventType,
};
use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use crate::app::webhooks::WebhookEndpoint;

pub const TAG: &str = "webhook-endpoints";
/// Deliveries and the signing secret are resources of their own in every SDK.
pub const SIGNING_SECRET_TAG: &str = "webhook-signing-secret";

/// An endpoint with its signing `secret`, returned once by create and rotate-secret.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: verifies the `webhook-signature` header (Standard Webhooks). Shown once.
    #[schema(format = Password)]
    pub secret: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.example.com/keyward", "description": "key events to ops", "event_types": ["api_key.rotated", "api_key.leaked"]}))]
pub struct CreateWebhookEndpointRequest {
    /// Absolute http(s) URL of a public host (at most 2 048 characters); private, loopback and
    /// link-local targets are refused.
    #[schema(max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    pub url: String,
    /// At most 500 characters, no control characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<String>,
    /// Only these events (default: every event).
    pub event_types: Option<Vec<WebhookEventType>>,
    /// Default true.
    pub is_active: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpointRequest {
    /// Absolute http(s) URL of a public host (at most 2 048 characters).
    #[schema(nullable = false, max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub url: Option<String>,
    /// At most 500 characters, no control characters; `null` clears it.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<Option<String>>,
    /// Replaces the filter; `[]` means every event.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub event_types: Option<Vec<WebhookEventType>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub is_active: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListWebhookEndpointsQuery {
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor from `X-Next-Cursor`.
    pub starting_after: Option<Uuid>,
}

/// The organization's secret for deliveries to keys' `rotation_webhook_url`.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookSigningSecret {
    /// `whsec_…`. Shown once; the previous secret stops signing at once.
    #[schema(format = Password)]
    pub secret: String,
}

// ---------------------------------------------------------------- to the use cases

impl From<CreateWebhookEndpointRequest> for NewWebhookEndpoint {
    fn from(r: CreateWebhookEndpointRequest) -> Self {
        NewWebhookEndpoint {
            url: r.url,
            description: r.description,
            event_types: r.event_types,
            is_active: r.is_active,
        }
    }
}

impl From<UpdateWebhookEndpointRequest> for WebhookEndpointChanges {
    fn from(r: UpdateWebhookEndpointRequest) -> Self {
        WebhookEndpointChanges {
            url: r.url,
            description: r.description,
            event_types: r.event_types,
            is_active: r.is_active,
        }
    }
}

// ---------------------------------------------------------------- handlers

/// List webhook endpoints
///
/// Newest first, without their secrets. The next page's cursor comes in `X-Next-Cursor` and `Link`.
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = TAG, operation_id = "list_webhook_endpoints",
    params(ListWebhookEndpointsQuery),
    responses(
        (status = 200, description = "A page of endpoints, newest first", body = Vec<WebhookEndpoint>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_webhook_endpoints(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListWebhookEndpointsQuery>,
) -> ApiResult<Response> {
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = webhooks::list_endpoints(&state, &caller, &page_query).await?.map(WebhookEndpoint::from);
    Ok(list_response("/v1/webhook-endpoints", page, q.limit, &[]))
}

/// Create a webhook endpoint
///
/// Returns the endpoint with its signing `secret`, shown once. A server
/// without `KEYWARD_SECRETS_KEY` (Postgres) answers 503 `secrets_key_missing`.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = TAG, operation_id = "create_webhook_endpoint",
    request_body = CreateWebhookEndpointRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h when repeated with the same body")),
    responses(
        (status = 201, description = "Created; `secret` is shown once", body = CreatedWebhookEndpoint),
        (status = 400, description = "Invalid field (e.g. a private or malformed `url`)", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 409, description = "`limit_reached`: the organization already has `webhook_max_endpoints` endpoints (default 20)", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_webhook_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateWebhookEndpointRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhookEndpoint>)> {
    let (endpoint, secret) = webhooks::create_endpoint(&state, &caller, req.into()).await?;
    Ok((StatusCode::CREATED, Json(CreatedWebhookEndpoint { endpoint: WebhookEndpoint::from(&endpoint), secret })))
}

/// Get a webhook endpoint
///
/// Without its secret: that is shown only by create and rotate-secret.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", tag = TAG, operation_id = "get_webhook_endpoint",
    params(("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses(
        (status = 200, description = "The endpoint (without its secret)", body = WebhookEndpoint),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 404, description = "No such endpoint in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_webhook_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(WebhookEndpoint::from(&webhooks::get_endpoint(&state, &caller, id).await?)))
}

/// Update a webhook endpoint
///
/// Partial update of the URL, description, event filter or `is_active`; the signing secret stays.
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", tag = TAG, operation_id = "update_webhook_endpoint",
    params(("id" = Uuid, Path, description = "Webhook endpoint id")),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "The updated endpoint", body = WebhookEndpoint),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 404, description = "No such endpoint in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update_webhook_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateWebhookEndpointRequest>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(WebhookEndpoint::from(&webhooks::update_endpoint(&state, &caller, id, req.into()).await?)))
}

/// Delete a webhook endpoint
///
/// Stops new deliveries to it; deliveries already queued still go out.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", tag = TAG, operation_id = "delete_webhook_endpoint",
    params(("id" = Uuid, Path, description = "Webhook endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 404, description = "No such endpoint in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn delete_webhook_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    webhooks::delete_endpoint(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate a webhook endpoint's signing secret
///
/// The old secret stops signing at once; the new one is shown once. A server
/// without `KEYWARD_SECRETS_KEY` (Postgres) answers 503 `secrets_key_missing`.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", tag = TAG, operation_id = "rotate_webhook_endpoint_secret",
    params(("id" = Uuid, Path, description = "Webhook endpoint id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "The endpoint with its new `secret`, shown once", body = CreatedWebhookEndpoint),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
        (status = 404, description = "No such endpoint in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn rotate_webhook_endpoint_secret(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<CreatedWebhookEndpoint>> {
    let (endpoint, secret) = webhooks::rotate_endpoint_secret(&state, &caller, id).await?;
    Ok(Json(CreatedWebhookEndpoint { endpoint: WebhookEndpoint::from(&endpoint), secret }))
}

/// Rotate the signing secret for keys' rotation webhooks
///
/// Deliveries to a key's `rotation_webhook_url` are signed with this
/// organization-wide secret. Call once to learn it (it exists from the first
/// such delivery, unseen); each call replaces it and shows the new one once.
/// A server without `KEYWARD_SECRETS_KEY` (Postgres) answers 503 `secrets_key_missing`.
#[utoipa::path(post, path = "/v1/webhook-signing-secret", tag = SIGNING_SECRET_TAG, operation_id = "rotate_webhook_signing_secret",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "The new secret, shown once", body = WebhookSigningSecret),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope (owner/admin role)", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn rotate_webhook_signing_secret(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<WebhookSigningSecret>> {
    Ok(Json(WebhookSigningSecret { secret: webhooks::rotate_signing_secret(&state, &caller).await? }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhook_endpoints, create_webhook_endpoint))
        .routes(routes!(get_webhook_endpoint, update_webhook_endpoint, delete_webhook_endpoint))
        .routes(routes!(rotate_webhook_endpoint_secret))
        .routes(routes!(rotate_webhook_signing_secret))
}
