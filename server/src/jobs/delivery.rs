//! The delivery worker: polls the outbox, leases due deliveries (a
//! conditional UPDATE, so several processes share the work without sending
//! one delivery twice at once), POSTs them signed, and schedules retries
//! (`webhook_retry_delays`, about 24 h by default) until the receiver answers
//! 2xx or the schedule runs out, which dead-letters the delivery (`failed`;
//! `POST /v1/webhook-deliveries/{id}/redeliver` queues it again).
//!
//! Delivery is at least once: a process killed mid-attempt leaves a lease
//! that expires, and another attempt follows with the same `webhook-id`, by
//! which receivers deduplicate.

//!
//! Slots are shared fairly between organizations: one process sends at most
//! [`CONCURRENCY`] deliveries at once, and one organization holds at most
//! [`PER_ORG`] of them, so a tenant whose receivers hang cannot hold up the
//! others' deliveries. Each poll takes the organizations with due deliveries
//! (oldest first) and leases their deliveries round-robin, one per organization
//! in turn, while slots are free.

use crate::webhooks::{new_secret, sign, ssrf};
use crate::{
    app::AppState,
    jobs::BackgroundTask,
    secrets,
    store::{self, DELIVERY_FAILED, DELIVERY_SUCCEEDED, OrgId, WebhookDeliveryRecord, now_ms},
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

/// Deliveries one process sends at the same time.
pub const CONCURRENCY: usize = 32;
/// Of which one organization may hold at most this many: a quarter.
pub const PER_ORG: usize = CONCURRENCY / 4;
/// Organizations with due deliveries looked at per poll.
const ORGS_PER_POLL: i64 = 64;

/// Deliveries in flight in this process, per organization.
#[derive(Default)]
struct InFlight {
    per_org: Mutex<HashMap<OrgId, usize>>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, usize>> {
        self.per_org.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Slots free in all, and for each organization.
    fn free(&self) -> (usize, HashMap<OrgId, usize>) {
        let map = self.lock();
        let busy: usize = map.values().sum();
        (CONCURRENCY.saturating_sub(busy), map.iter().map(|(org, n)| (*org, PER_ORG.saturating_sub(*n))).collect())
    }

    fn take(self: &Arc<Self>, org: OrgId) -> Slot {
        *self.lock().entry(org).or_default() += 1;
        Slot { in_flight: self.clone(), org }
    }
}

/// A delivery's slot, given back when dropped.
struct Slot {
    in_flight: Arc<InFlight>,
    org: OrgId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.in_flight.lock();
        if let Some(n) = map.get_mut(&self.org) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.org);
            }
        }
    }
}

pub fn spawn(state: AppState) -> BackgroundTask {
    BackgroundTask::spawn("webhook delivery", state.config.webhook_poll_interval, state, {
        let in_flight = Arc::new(InFlight::default());
        move |state: AppState| {
            let in_flight = in_flight.clone();
            async move { poll(&state, &in_flight).await }
        }
    })
}

async fn poll(state: &AppState, in_flight: &Arc<InFlight>) -> anyhow::Result<()> {
    let (mut free, mut free_per_org) = in_flight.free();
    if free == 0 {
        return Ok(());
    }
    let now = state.config.clock.now_ms();
    let lease = (state.config.webhook_timeout + Duration::from_secs(30)).as_millis() as i64;
    // Each organization's due deliveries, up to its free slots, oldest organization first.
    let mut queues = Vec::new();
    for org in store::orgs_with_due_webhook_deliveries(state.store.pool(), now, ORGS_PER_POLL).await? {
        let room = free_per_org.get(&org).copied().unwrap_or(PER_ORG).min(free);
        if room > 0 {
            let due = store::due_webhook_deliveries_of(state.store.pool(), &org, now, room as i64).await?;
            queues.push(due.into_iter());
        }
    }
    // Round-robin: one delivery per organization in turn while slots are free.
    while free > 0 && !queues.is_empty() {
        queues.retain(|q| q.len() > 0);
        for queue in queues.iter_mut() {
            let Some(delivery) = queue.next() else { continue };
            if free == 0 {
                break;
            }
            if !store::claim_webhook_delivery(state.store.pool(), &delivery.id, now, now + lease).await? {
                continue;
            }
            free -= 1;
            *free_per_org.entry(delivery.organization_id).or_insert(PER_ORG) -= 1;
            let slot = in_flight.take(delivery.organization_id);
            let state = state.clone();
            tokio::spawn(async move {
                let id = delivery.id;
                if let Err(err) = attempt(&state, delivery).await {
                    tracing::warn!(delivery_id = %id, error = %err, "webhook attempt could not be recorded; retried after its lease");
                }
                drop(slot);
            });
        }
    }
    Ok(())
}

/// One attempt, recorded: delivered, retried later, or dead-lettered.
async fn attempt(state: &AppState, mut d: WebhookDeliveryRecord) -> anyhow::Result<()> {
    let outcome = send(state, &d).await;
    let now = state.config.clock.now_ms();
    d.attempts += 1;
    d.last_attempt_at = Some(now);
    d.updated_at = now;
    match outcome {
        Ok(code) if (200..300).contains(&code) => {
            (d.status, d.delivered_at, d.next_attempt_at) = (DELIVERY_SUCCEEDED.into(), Some(now), None);
            (d.last_status_code, d.last_error) = (Some(code.into()), None);
            tracing::info!(delivery_id = %d.id, event_id = %d.event_id, event_type = %d.event_type, status = code, attempts = d.attempts, "webhook delivered");
            state.metrics.webhook_attempt("delivered");
            return Ok(store::record_webhook_attempt(state.store.pool(), &d).await?);
        }
        Ok(code) => {
            (d.last_status_code, d.last_error) = (Some(code.into()), Some(format!("receiver answered HTTP {code}")))
        }
        Err(err) => (d.last_status_code, d.last_error) = (None, Some(err)),
    }
    match state.config.webhook_retry_delays.get(d.retry_step as usize) {
        Some(delay) => {
            d.retry_step += 1;
            d.next_attempt_at = Some(now + delay.as_millis() as i64);
            state.metrics.webhook_attempt("retry");
            tracing::info!(delivery_id = %d.id, event_id = %d.event_id, attempts = d.attempts, retry_in_ms = delay.as_millis() as u64, error = d.last_error.as_deref().unwrap_or(""), "webhook attempt failed; will retry");
        }
        None => {
            (d.status, d.next_attempt_at) = (DELIVERY_FAILED.into(), None);
            state.metrics.webhook_attempt("dead_lettered");
            tracing::warn!(delivery_id = %d.id, event_id = %d.event_id, attempts = d.attempts, error = d.last_error.as_deref().unwrap_or(""), "webhook retries exhausted; delivery dead-lettered");
        }
    }
    Ok(store::record_webhook_attempt(state.store.pool(), &d).await?)
}

/// POSTs the event; the receiver's status code, or why nothing was sent.
async fn send(state: &AppState, d: &WebhookDeliveryRecord) -> Result<u16, String> {
    let url = url::Url::parse(&d.url).map_err(|_| "the URL does not parse".to_string())?;
    if let Some(why) = ssrf::refuse_url(&url, state.config.webhook_allow_private) {
        return Err(format!("refused: the URL {why}"));
    }
    let mut conn = state.store.pool().acquire().await.map_err(|e| format!("database: {e}"))?;
    let payload = store::webhook_event_payload(&mut conn, &d.event_id)
        .await
        .map_err(|e| format!("database: {e}"))?
        .ok_or("the event is gone")?;
    let secret = signing_secret(state, &mut conn, d).await?;
    drop(conn);
    // On the wire, the wall clock: receivers compare it with theirs.
    let timestamp = now_ms() / 1000;
    let signature =
        sign(secret.expose(), &d.event_id, timestamp, payload.as_bytes()).ok_or("the signing secret is invalid")?;
    let response = state
        .webhook_client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(payload)
        .send()
        .await
        .map_err(|e| describe(&e))?;
    Ok(response.status().as_u16())
}

/// The secret that signs `d`: its endpoint's, or the organization's for a
/// key's own rotation URL (created, sealed, on first use).
async fn signing_secret(
    state: &AppState,
    conn: &mut store::Conn,
    d: &WebhookDeliveryRecord,
) -> Result<secrets::Secret, String> {
    let db = |e: sqlx::Error| format!("database: {e}");
    let (stored, aad) = match &d.endpoint_id {
        Some(endpoint_id) => (
            store::webhook_endpoint_secret(conn, endpoint_id).await.map_err(db)?.ok_or("the endpoint is gone")?,
            secrets::endpoint_aad(endpoint_id.to_string()),
        ),
        None => {
            let aad = secrets::organization_aad(d.organization_id.to_string());
            let stored = match store::key_webhook_secret(conn, &d.organization_id).await.map_err(db)? {
                Some(stored) => stored,
                None => {
                    let sealed = state.secrets.seal(&aad, &new_secret()).map_err(|e| e.to_string())?;
                    store::set_key_webhook_secret(conn, &d.organization_id, &sealed, false).await.map_err(db)?
                }
            };
            (stored, aad)
        }
    };
    state.secrets.open(&aad, &stored).map_err(|e| format!("signing secret: {e}"))
}

/// A transport error without its URL (which may carry credentials), with its causes.
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() { "timed out".to_string() } else { "could not connect".to_string() };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}
