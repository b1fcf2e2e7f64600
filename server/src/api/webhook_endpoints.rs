//! `/v1/webhook-endpoints`: where an organization's key events are delivered,
//! with event filters and a signing secret shown once; and
//! `/v1/webhook-signing-secret`, the organization's secret for deliveries to
//! keys' own `rotation_webhook_url`.

use super::{Page, PageQuery, api_keys::ms_to_time, nullable, pagination_headers, validate};
use crate::{
    app::AppState,
    auth::{Caller, Permission},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath},
    secrets,
    store::{self, WebhookEndpointRecord, now_ms},
    webhooks::{self, WebhookEventType},
};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub const TAG: &str = "webhooks";

/// A destination for the organization's key events. The signing secret is
/// not shown again after creation (rotate it to get a new one).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// Event types delivered here; empty: every event.
    pub event_types: Vec<WebhookEventType>,
    /// False pauses deliveries (events are not queued for it meanwhile).
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its signing `secret`, returned once by create and rotate-secret.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: verifies the `webhook-signature` header (Standard Webhooks). Shown once.
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
    #[schema(max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    pub url: Option<String>,
    /// At most 500 characters, no control characters; `null` clears it.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub description: Option<Option<String>>,
    /// Replaces the filter; `[]` means every event.
    pub event_types: Option<Vec<WebhookEventType>>,
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
    pub secret: String,
}

impl From<&WebhookEndpointRecord> for WebhookEndpoint {
    fn from(e: &WebhookEndpointRecord) -> Self {
        let types: Vec<String> = serde_json::from_str(&e.event_types).unwrap_or_default();
        WebhookEndpoint {
            id: Uuid::parse_str(&e.id).unwrap_or_default(),
            organization_id: Uuid::parse_str(&e.organization_id).unwrap_or_default(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: types.iter().filter_map(|t| WebhookEventType::parse(t)).collect(),
            is_active: e.is_active != 0,
            created_at: ms_to_time(e.created_at),
            updated_at: ms_to_time(e.updated_at),
        }
    }
}

fn event_types_json(types: &[WebhookEventType]) -> String {
    // In the caller's order, each type once.
    let mut names: Vec<&str> = Vec::with_capacity(types.len());
    for name in types.iter().map(|t| t.as_str()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    json!(names).to_string()
}

/// Webhooks are organization administration: `orgs:admin` (owner/admin), not for a project key.
pub fn require_admin(caller: &Caller) -> ApiResult<()> {
    caller.require(Permission::OrgsAdmin)?;
    caller.require_org_level("manage webhooks")
}

async fn load_endpoint(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<WebhookEndpointRecord> {
    let mut conn = state.store.pool().acquire().await?;
    store::get_webhook_endpoint(&mut conn, &caller.organization_id, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

fn summary(e: &WebhookEndpointRecord) -> serde_json::Value {
    json!(WebhookEndpoint::from(e))
}

/// List webhook endpoints
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
    require_admin(&caller)?;
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let limit = page_query.limit()?;
    let after = q.starting_after.map(|u| u.to_string());
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_webhook_endpoints(&mut conn, &caller.organization_id, after.as_deref(), limit + 1).await?;
    let page = Page::from_rows(rows.iter().map(WebhookEndpoint::from).collect(), limit, |e| e.id.to_string());
    let headers = pagination_headers("/v1/webhook-endpoints", page.next_cursor.as_deref(), q.limit, &[]);
    Ok((headers, Json(page.items)).into_response())
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
    require_admin(&caller)?;
    let now = now_ms();
    let id = Uuid::now_v7().to_string();
    let secret = webhooks::new_secret();
    let endpoint = WebhookEndpointRecord {
        id: id.clone(),
        organization_id: caller.organization_id.clone(),
        url: validate::webhook_target(state.config.webhook_allow_private, "url", &req.url)?,
        description: validate::optional_text("description", req.description.as_deref(), 500)?,
        event_types: event_types_json(req.event_types.as_deref().unwrap_or_default()),
        secret: state.secrets.seal(&secrets::endpoint_aad(&id), &secret)?,
        is_active: i64::from(req.is_active.unwrap_or(true)),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let mut tx = state.store.begin().await?;
    // Lock the organization's row: concurrent creations (on Postgres; SQLite
    // serializes writers anyway) count its endpoints one after the other.
    store::lock_org(&mut tx, &caller.organization_id).await?;
    let max = state.config.webhook_max_endpoints;
    if store::count_webhook_endpoints(&mut tx, &caller.organization_id).await? >= max as i64 {
        return Err(ApiError::LimitReached(format!(
            "this organization already has {max} webhook endpoints, the most allowed (webhook_max_endpoints); \
             delete one first"
        )));
    }
    store::insert_webhook_endpoint(&mut tx, &endpoint).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "webhook_endpoint.created",
            "webhook_endpoint",
            &endpoint.id,
            json!({"after": summary(&endpoint)}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedWebhookEndpoint { endpoint: WebhookEndpoint::from(&endpoint), secret })))
}

/// Get a webhook endpoint
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
    require_admin(&caller)?;
    Ok(Json(WebhookEndpoint::from(&load_endpoint(&state, &caller, id).await?)))
}

/// Update a webhook endpoint
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
    require_admin(&caller)?;
    let (endpoint, ()) = write_endpoint(&state, &caller, id, "webhook_endpoint.updated", |endpoint| {
        if let Some(url) = &req.url {
            endpoint.url = validate::webhook_target(state.config.webhook_allow_private, "url", url)?;
        }
        if let Some(description) = &req.description {
            endpoint.description = validate::optional_text("description", description.as_deref(), 500)?;
        }
        if let Some(types) = &req.event_types {
            endpoint.event_types = event_types_json(types);
        }
        if let Some(active) = req.is_active {
            endpoint.is_active = i64::from(active);
        }
        Ok(())
    })
    .await?;
    Ok(Json(WebhookEndpoint::from(&endpoint)))
}

/// How many times a write re-reads an endpoint that changed under it.
const MAX_WRITE_ATTEMPTS: usize = 5;

/// Read the endpoint, apply `change`, and write it — only if nobody wrote
/// it in between (else read again and reapply), audited as `action` in the
/// same transaction. Every write re-seals the secret under the current key.
async fn write_endpoint<T>(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: &str,
    mut change: impl FnMut(&mut store::WebhookEndpointRecord) -> ApiResult<T>,
) -> ApiResult<(store::WebhookEndpointRecord, T)> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let before = load_endpoint(state, caller, id).await?;
        let mut endpoint = before.clone();
        let out = change(&mut endpoint)?;
        endpoint.updated_at = now_ms().max(before.updated_at + 1);
        endpoint.secret = state.secrets.reseal(&secrets::endpoint_aad(&endpoint.id), &endpoint.secret)?;
        let mut tx = state.store.begin().await?;
        if !store::update_webhook_endpoint(&mut tx, &endpoint, before.updated_at).await? {
            continue;
        }
        let changes = json!({"before": summary(&before), "after": summary(&endpoint)});
        store::insert_audit(&mut tx, &caller.audit(action, "webhook_endpoint", &endpoint.id, changes)).await?;
        tx.commit().await?;
        return Ok((endpoint, out));
    }
    Err(ApiError::conflict("webhook endpoint is being changed concurrently; retry the request"))
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
    require_admin(&caller)?;
    // Deliveries still queued sign with its secret: the row stays, deleted.
    write_endpoint(&state, &caller, id, "webhook_endpoint.deleted", |endpoint| {
        (endpoint.deleted_at, endpoint.is_active) = (Some(now_ms()), 0);
        Ok(())
    })
    .await?;
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
    require_admin(&caller)?;
    // The secret returned is the one written: a retry after a lost race mints another.
    let (endpoint, secret) = write_endpoint(&state, &caller, id, "webhook_endpoint.secret_rotated", |endpoint| {
        let secret = webhooks::new_secret();
        endpoint.secret = state.secrets.seal(&secrets::endpoint_aad(&endpoint.id), &secret)?;
        Ok(secret)
    })
    .await?;
    Ok(Json(CreatedWebhookEndpoint { endpoint: WebhookEndpoint::from(&endpoint), secret }))
}

/// Rotate the signing secret for keys' rotation webhooks
///
/// Deliveries to a key's `rotation_webhook_url` are signed with this
/// organization-wide secret. Call once to learn it (it exists from the first
/// such delivery, unseen); each call replaces it and shows the new one once.
/// A server without `KEYWARD_SECRETS_KEY` (Postgres) answers 503 `secrets_key_missing`.
#[utoipa::path(post, path = "/v1/webhook-signing-secret", tag = TAG, operation_id = "rotate_webhook_signing_secret",
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
    require_admin(&caller)?;
    let aad = secrets::organization_aad(&caller.organization_id);
    let sealed = state.secrets.seal(&aad, &webhooks::new_secret())?;
    let mut tx = state.store.begin().await?;
    let stored = store::set_key_webhook_secret(&mut tx, &caller.organization_id, &sealed, true).await?;
    let secret = state.secrets.open(&aad, &stored)?.expose().to_string();
    store::insert_audit(
        &mut tx,
        &caller.audit("organization.webhook_secret_rotated", "organization", &caller.organization_id, json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(WebhookSigningSecret { secret }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhook_endpoints, create_webhook_endpoint))
        .routes(routes!(get_webhook_endpoint, update_webhook_endpoint, delete_webhook_endpoint))
        .routes(routes!(rotate_webhook_endpoint_secret))
        .routes(routes!(rotate_webhook_signing_secret))
}
