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

use super::{sign, ssrf};
use crate::{
    background::BackgroundTask,
    state::AppState,
    store::{self, DELIVERY_FAILED, DELIVERY_SUCCEEDED, WebhookDeliveryRecord, now_ms},
};
use std::{sync::Arc, time::Duration};
use tokio::sync::Semaphore;

/// Deliveries one process sends at the same time.
const CONCURRENCY: usize = 8;
/// Deliveries leased per poll.
const BATCH: i64 = 32;

pub fn spawn(state: AppState) -> BackgroundTask {
    BackgroundTask::spawn("webhook delivery", state.config.webhook_poll_interval, state, {
        let limit = Arc::new(Semaphore::new(CONCURRENCY));
        move |state: AppState| {
            let limit = limit.clone();
            async move { poll(&state, &limit).await }
        }
    })
}

/// The HTTP client deliveries go through: no redirects, a bounded timeout,
/// and (unless private targets are allowed) a resolver that refuses
/// non-public addresses.
pub fn client(allow_private: bool, timeout: Duration) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("keyward-webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = if allow_private { builder } else { builder.dns_resolver(ssrf::PublicOnlyResolver) };
    builder.build().expect("webhook HTTP client")
}

async fn poll(state: &AppState, limit: &Arc<Semaphore>) -> anyhow::Result<()> {
    let now = now_ms();
    let lease = (state.config.webhook_timeout + Duration::from_secs(30)).as_millis() as i64;
    for delivery in store::due_webhook_deliveries(state.store.pool(), now, BATCH).await? {
        let permit = limit.clone().acquire_owned().await?;
        if !store::claim_webhook_delivery(state.store.pool(), &delivery.id, now, now + lease).await? {
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let id = delivery.id.clone();
            if let Err(err) = attempt(&state, delivery).await {
                tracing::warn!(delivery_id = %id, error = %err, "webhook attempt could not be recorded; retried after its lease");
            }
            drop(permit);
        });
    }
    Ok(())
}

/// One attempt, recorded: delivered, retried later, or dead-lettered.
async fn attempt(state: &AppState, mut d: WebhookDeliveryRecord) -> anyhow::Result<()> {
    let outcome = send(state, &d).await;
    let now = now_ms();
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
        Ok(code) => (d.last_status_code, d.last_error) = (Some(code.into()), Some(format!("receiver answered HTTP {code}"))),
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
    let secret = match &d.endpoint_id {
        Some(endpoint_id) => store::webhook_endpoint_secret(&mut conn, endpoint_id).await,
        None => match store::key_webhook_secret(&mut conn, &d.organization_id).await {
            Ok(Some(s)) => Ok(Some(s)),
            Ok(None) => store::set_key_webhook_secret(&mut conn, &d.organization_id, &super::new_secret(), false).await.map(Some),
            Err(e) => Err(e),
        },
    }
    .map_err(|e| format!("database: {e}"))?
    .ok_or("the endpoint is gone")?;
    drop(conn);
    let timestamp = now_ms() / 1000;
    let signature = sign(&secret, &d.event_id, timestamp, payload.as_bytes()).ok_or("the signing secret is invalid")?;
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
