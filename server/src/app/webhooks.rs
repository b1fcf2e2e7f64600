//! Webhooks as an organization administers them (`docs/key-hygiene.md`):
//! endpoints (create, list, read, change, delete, rotate the signing secret),
//! the organization's signing secret for keys' own `rotation_webhook_url`,
//! and the deliveries (list, read, redeliver). All of it is organization
//! administration: `orgs:admin`, never a project key. An endpoint's change
//! is a compare-and-swap on `updated_at` (`docs/architecture.md#storage`),
//! so a concurrent secret rotation or delete is never overwritten. Signing
//! and sending are `webhooks/` and `jobs/delivery.rs`.

use crate::domain::ids::{KeyId, WebhookDeliveryId, WebhookEndpointId};
use crate::{
    app::{
        AppState,
        caller::Caller,
        cas::compare_and_swap,
        pagination::{Page, PageQuery},
        validate,
    },
    domain::{access::Permission, time::ms_to_time},
    error::{ApiError, ApiResult},
    secrets,
    store::{self, WebhookDeliveryRecord, WebhookEndpointRecord},
    webhooks::{WebhookEventType, new_secret},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

// ---------------------------------------------------------------- endpoints and deliveries as shown

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

impl From<&WebhookEndpointRecord> for WebhookEndpoint {
    fn from(e: &WebhookEndpointRecord) -> Self {
        let types: Vec<String> = serde_json::from_str(&e.event_types).unwrap_or_default();
        WebhookEndpoint {
            id: e.id.uuid(),
            organization_id: e.organization_id.uuid(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: types.iter().filter_map(|t| WebhookEventType::parse(t)).collect(),
            is_active: e.is_active != 0,
            created_at: ms_to_time(e.created_at),
            updated_at: ms_to_time(e.updated_at),
        }
    }
}

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
    pub fn as_str(self) -> &'static str {
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
    #[schema(schema_with = crate::app::validate::webhook_payload_schema)]
    pub payload: Value,
}

impl WebhookDelivery {
    /// `d` with its event's `payload` (a delivery row does not hold it).
    fn new(d: &WebhookDeliveryRecord, payload: Option<&str>) -> Self {
        WebhookDelivery {
            id: d.id.uuid(),
            event_id: d.event_id.clone(),
            event_type: WebhookEventType::parse(&d.event_type).unwrap_or(WebhookEventType::ApiKeyUpdated),
            endpoint_id: d.endpoint_id.map(WebhookEndpointId::uuid),
            api_key_id: d.api_key_id.map(KeyId::uuid),
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
}

// ---------------------------------------------------------------- inputs

/// An endpoint to create, as a caller asks for it.
#[derive(Debug, Default, Clone)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub description: Option<String>,
    /// None or empty: every event.
    pub event_types: Option<Vec<WebhookEventType>>,
    /// Default true.
    pub is_active: Option<bool>,
}

/// A partial change: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone)]
pub struct WebhookEndpointChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    /// Replaces the filter; empty means every event.
    pub event_types: Option<Vec<WebhookEventType>>,
    pub is_active: Option<bool>,
}

/// Which deliveries to list; `None` does not filter.
#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    pub event_type: Option<WebhookEventType>,
    pub status: Option<WebhookDeliveryStatus>,
}

// ---------------------------------------------------------------- helpers

/// Webhooks are organization administration: `orgs:admin` (owner/admin), not for a project key.
fn require_admin(caller: &Caller) -> ApiResult<()> {
    caller.require(Permission::OrgsAdmin)?;
    caller.require_org_level("manage webhooks")
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

fn summary(e: &WebhookEndpointRecord) -> Value {
    json!(WebhookEndpoint::from(e))
}

async fn load_endpoint(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<WebhookEndpointRecord> {
    let mut conn = state.store.pool().acquire().await?;
    store::get_webhook_endpoint(&mut conn, &caller.organization_id, &WebhookEndpointId::from(id))
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))
}

/// Read the endpoint, apply `change`, and write it — only if nobody wrote
/// it in between (else read again and reapply), audited as `action` in the
/// same transaction. Every write re-seals the secret under the current key.
async fn write_endpoint<T>(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: &str,
    change: impl Fn(&mut WebhookEndpointRecord) -> ApiResult<T>,
) -> ApiResult<(WebhookEndpointRecord, T)> {
    let change = &change;
    compare_and_swap("webhook endpoint", move || write_endpoint_once(state, caller, id, action, change)).await
}

/// One attempt of [`write_endpoint`]; `None` when the row changed since it was read.
async fn write_endpoint_once<T>(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: &str,
    change: &impl Fn(&mut WebhookEndpointRecord) -> ApiResult<T>,
) -> ApiResult<Option<(WebhookEndpointRecord, T)>> {
    let before = load_endpoint(state, caller, id).await?;
    let mut endpoint = before.clone();
    let out = change(&mut endpoint)?;
    endpoint.updated_at = state.config.clock.now_ms().max(before.updated_at + 1);
    endpoint.secret = state.secrets.reseal(&secrets::endpoint_aad(endpoint.id), &endpoint.secret)?;
    let mut tx = state.store.begin().await?;
    if !store::update_webhook_endpoint(&mut tx, &endpoint, before.updated_at).await? {
        return Ok(None);
    }
    let changes = json!({"before": summary(&before), "after": summary(&endpoint)});
    store::insert_audit(&mut tx, &caller.audit(action, "webhook_endpoint", endpoint.id, changes)).await?;
    tx.commit().await?;
    Ok(Some((endpoint, out)))
}

// ---------------------------------------------------------------- endpoints

pub async fn list_endpoints(
    state: &AppState,
    caller: &Caller,
    page: &PageQuery,
) -> ApiResult<Page<WebhookEndpointRecord>> {
    require_admin(caller)?;
    let limit = page.limit()?;
    let mut conn = state.store.pool().acquire().await?;
    let rows =
        store::list_webhook_endpoints(&mut conn, &caller.organization_id, page.after().as_deref(), limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |e| e.id.to_string()))
}

/// Creates an endpoint with a fresh signing secret, returned in plaintext
/// once; at most `webhook_max_endpoints` per organization.
pub async fn create_endpoint(
    state: &AppState,
    caller: &Caller,
    req: NewWebhookEndpoint,
) -> ApiResult<(WebhookEndpointRecord, String)> {
    require_admin(caller)?;
    let now = state.config.clock.now_ms();
    let id = WebhookEndpointId::new();
    let secret = new_secret();
    let endpoint = WebhookEndpointRecord {
        id,
        organization_id: caller.organization_id,
        url: validate::webhook_target(state.config.webhook_allow_private, "url", &req.url)?,
        description: validate::optional_text("description", req.description.as_deref(), 500)?,
        event_types: event_types_json(req.event_types.as_deref().unwrap_or_default()),
        secret: state.secrets.seal(&secrets::endpoint_aad(id), &secret)?,
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
            endpoint.id,
            json!({"after": summary(&endpoint)}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((endpoint, secret))
}

pub async fn get_endpoint(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<WebhookEndpointRecord> {
    require_admin(caller)?;
    load_endpoint(state, caller, id).await
}

pub async fn update_endpoint(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    req: WebhookEndpointChanges,
) -> ApiResult<WebhookEndpointRecord> {
    require_admin(caller)?;
    let (endpoint, ()) = write_endpoint(state, caller, id, "webhook_endpoint.updated", |endpoint| {
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
    Ok(endpoint)
}

/// Stops new deliveries to the endpoint; deliveries already queued still go out.
pub async fn delete_endpoint(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<()> {
    require_admin(caller)?;
    // Deliveries still queued sign with its secret: the row stays, deleted.
    write_endpoint(state, caller, id, "webhook_endpoint.deleted", |endpoint| {
        (endpoint.deleted_at, endpoint.is_active) = (Some(state.config.clock.now_ms()), 0);
        Ok(())
    })
    .await?;
    Ok(())
}

/// A new signing secret for the endpoint, returned in plaintext once; the old
/// one stops signing at once.
pub async fn rotate_endpoint_secret(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<(WebhookEndpointRecord, String)> {
    require_admin(caller)?;
    // The secret returned is the one written: a retry after a lost race mints another.
    write_endpoint(state, caller, id, "webhook_endpoint.secret_rotated", |endpoint| {
        let secret = new_secret();
        endpoint.secret = state.secrets.seal(&secrets::endpoint_aad(endpoint.id), &secret)?;
        Ok(secret)
    })
    .await
}

/// Replaces the organization's secret for deliveries to keys' own
/// `rotation_webhook_url` and returns the new one in plaintext, once.
pub async fn rotate_signing_secret(state: &AppState, caller: &Caller) -> ApiResult<String> {
    require_admin(caller)?;
    let aad = secrets::organization_aad(caller.organization_id);
    let sealed = state.secrets.seal(&aad, &new_secret())?;
    let mut tx = state.store.begin().await?;
    let stored = store::set_key_webhook_secret(&mut tx, &caller.organization_id, &sealed, true).await?;
    let secret = state.secrets.open(&aad, &stored)?.expose().to_string();
    store::insert_audit(
        &mut tx,
        &caller.audit("organization.webhook_secret_rotated", "organization", caller.organization_id, json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}

// ---------------------------------------------------------------- deliveries

async fn with_payloads(conn: &mut store::Conn, rows: &[WebhookDeliveryRecord]) -> ApiResult<Vec<WebhookDelivery>> {
    let mut ids: Vec<&str> = rows.iter().map(|d| d.event_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let payloads = store::webhook_event_payloads(conn, &ids).await?;
    Ok(rows.iter().map(|d| WebhookDelivery::new(d, payloads.get(&d.event_id).map(String::as_str))).collect())
}

async fn load_delivery(conn: &mut store::Conn, caller: &Caller, id: Uuid) -> ApiResult<WebhookDeliveryRecord> {
    store::get_webhook_delivery(conn, &caller.organization_id, &WebhookDeliveryId::from(id))
        .await?
        .ok_or(ApiError::NotFound("webhook delivery"))
}

/// A page of the organization's deliveries matching `filter`, newest first.
pub async fn list_deliveries(
    state: &AppState,
    caller: &Caller,
    filter: &DeliveryFilter,
    page: &PageQuery,
) -> ApiResult<Page<WebhookDelivery>> {
    require_admin(caller)?;
    let limit = page.limit()?;
    let (endpoint_id, api_key_id, after) =
        (filter.endpoint_id.map(WebhookEndpointId::from), filter.api_key_id.map(KeyId::from), page.after());
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_webhook_deliveries(
        &mut conn,
        &store::DeliveryFilter {
            organization_id: &caller.organization_id,
            endpoint_id: endpoint_id.as_ref(),
            api_key_id: api_key_id.as_ref(),
            event_type: filter.event_type.map(WebhookEventType::as_str),
            status: filter.status.map(WebhookDeliveryStatus::as_str),
            starting_after: after.as_deref(),
            limit: limit + 1,
        },
    )
    .await?;
    let items = with_payloads(&mut conn, &rows).await?;
    Ok(Page::from_rows(items, limit, |d| d.id.to_string()))
}

pub async fn get_delivery(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<WebhookDelivery> {
    require_admin(caller)?;
    let mut conn = state.store.pool().acquire().await?;
    let d = load_delivery(&mut conn, caller, id).await?;
    let payload = store::webhook_event_payload(&mut conn, &d.event_id).await?;
    Ok(WebhookDelivery::new(&d, payload.as_deref()))
}

/// Queues the delivery again now, with the same `webhook-id` and a fresh
/// retry schedule (a delivery still pending is simply attempted now).
pub async fn redeliver(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<WebhookDelivery> {
    require_admin(caller)?;
    let now = state.config.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let before = load_delivery(&mut tx, caller, id).await?;
    store::requeue_webhook_delivery(&mut tx, &before.id, now).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "webhook_delivery.redelivered",
            "webhook_delivery",
            before.id,
            json!({"event_id": before.event_id}),
        ),
    )
    .await?;
    let after = load_delivery(&mut tx, caller, id).await?;
    let payload = store::webhook_event_payload(&mut tx, &after.event_id).await?;
    tx.commit().await?;
    Ok(WebhookDelivery::new(&after, payload.as_deref()))
}
