//! The transactional outbox: an event about a key is written to
//! `webhook_events` with one `webhook_deliveries` row per destination in the
//! same transaction as the change it announces, so an event exists exactly
//! when its change committed and survives a crash before delivery
//! (`docs/architecture.md#background-jobs-and-their-claims`). Destinations: the
//! organization's active endpoints whose filter takes the event type, and, for
//! rotation events, the key's own `rotation_webhook_url`.

use crate::{
    app::keys::ApiKey,
    domain::time::ms_to_time,
    error::ApiResult,
    store::{
        self, Conn, KeyId, KeyRecord, WebhookDeliveryId, WebhookDeliveryRecord, WebhookEndpointId, WebhookEventRecord,
        now_ms,
    },
    webhooks::WebhookEventType,
};
use serde_json::{Value, json};

/// Writes `event` about `key` (with `extra` fields merged into `data`) to the
/// outbox, fanned out to its destinations, on `conn` — the transaction of the
/// change. Returns how many deliveries were queued.
pub async fn enqueue(conn: &mut Conn, event: WebhookEventType, key: &KeyRecord, extra: Value) -> ApiResult<usize> {
    let endpoints = store::active_webhook_endpoints(conn, &key.organization_id).await?;
    let mut destinations: Vec<(Option<WebhookEndpointId>, Option<KeyId>, String)> = endpoints
        .into_iter()
        .filter(|e| {
            let types: Vec<String> = serde_json::from_str(&e.event_types).unwrap_or_default();
            types.is_empty() || types.iter().any(|t| t == event.as_str())
        })
        .map(|e| (Some(e.id), None, e.url))
        .collect();
    if event.goes_to_rotation_url()
        && let Some(url) = &key.rotation_webhook_url
    {
        destinations.push((None, Some(key.id), url.clone()));
    }
    if destinations.is_empty() {
        return Ok(0);
    }
    // The event's timestamp goes on the wire: the wall clock.
    let now = now_ms();
    let mut data = json!({ "api_key": ApiKey::from(key) });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    let event_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let payload = json!({
        "type": event.as_str(),
        "timestamp": ms_to_time(now),
        "data": data,
    });
    store::insert_webhook_event(
        conn,
        &WebhookEventRecord {
            id: event_id.clone(),
            organization_id: key.organization_id,
            event_type: event.as_str().to_string(),
            payload: payload.to_string(),
            created_at: now,
        },
    )
    .await?;
    let queued = destinations.len();
    for (endpoint_id, key_id, url) in destinations {
        store::insert_webhook_delivery(
            conn,
            &WebhookDeliveryRecord {
                id: WebhookDeliveryId::new(),
                organization_id: key.organization_id,
                event_id: event_id.clone(),
                event_type: event.as_str().to_string(),
                endpoint_id,
                api_key_id: key_id,
                url,
                status: store::DELIVERY_PENDING.to_string(),
                attempts: 0,
                retry_step: 0,
                next_attempt_at: Some(now),
                locked_until: None,
                last_attempt_at: None,
                last_status_code: None,
                last_error: None,
                delivered_at: None,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
    }
    Ok(queued)
}
