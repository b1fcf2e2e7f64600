//! Signed webhooks (Standard Webhooks): the event types, the outbox writer
//! every key change calls inside its own transaction, signing, and the
//! delivery worker ([`crate::jobs::delivery`]) with its SSRF guard ([`ssrf`]).
//!
//! An event is written to `webhook_events` with one `webhook_deliveries` row
//! per destination in the same transaction as the change it announces, so an
//! event exists exactly when its change committed and survives a crash before
//! delivery. Destinations: the organization's active endpoints whose filter
//! takes the event type, and, for rotation events, the key's own
//! `rotation_webhook_url`.

pub mod ssrf;

use crate::store::{self, Conn, KeyRecord, WebhookDeliveryRecord, WebhookEventRecord, now_ms};
use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use rand::{TryRngCore, rngs::OsRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// What happened to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum WebhookEventType {
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.updated")]
    ApiKeyUpdated,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "api_key.regenerated")]
    ApiKeyRegenerated,
    #[serde(rename = "api_key.rotated")]
    ApiKeyRotated,
    /// `expires_at` is near (the project's `expiry_warning_days`, default 7).
    #[serde(rename = "api_key.expiring")]
    ApiKeyExpiring,
    /// `next_rotation_at` is near.
    #[serde(rename = "api_key.rotation_due")]
    ApiKeyRotationDue,
    /// A leak report matched the key.
    #[serde(rename = "api_key.leaked")]
    ApiKeyLeaked,
    /// A verify was refused because the key's usage quota ran out.
    #[serde(rename = "api_key.usage_exceeded")]
    ApiKeyUsageExceeded,
}

impl WebhookEventType {
    pub const ALL: [WebhookEventType; 9] = [
        Self::ApiKeyCreated,
        Self::ApiKeyUpdated,
        Self::ApiKeyRevoked,
        Self::ApiKeyRegenerated,
        Self::ApiKeyRotated,
        Self::ApiKeyExpiring,
        Self::ApiKeyRotationDue,
        Self::ApiKeyLeaked,
        Self::ApiKeyUsageExceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyUpdated => "api_key.updated",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::ApiKeyRegenerated => "api_key.regenerated",
            Self::ApiKeyRotated => "api_key.rotated",
            Self::ApiKeyExpiring => "api_key.expiring",
            Self::ApiKeyRotationDue => "api_key.rotation_due",
            Self::ApiKeyLeaked => "api_key.leaked",
            Self::ApiKeyUsageExceeded => "api_key.usage_exceeded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Events that also go to the key's own `rotation_webhook_url`.
    fn goes_to_rotation_url(self) -> bool {
        matches!(self, Self::ApiKeyRotated | Self::ApiKeyRotationDue)
    }
}

/// Keys this process recently tried to claim a once-only event for, so a key
/// refused on every verify costs one store write per `window`, not one per
/// request. The store's marker still decides who announces, and only once.
#[derive(Default)]
pub struct RecentClaims {
    seen: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl RecentClaims {
    /// True when `key_id` was not tried within `window_ms` (and records this try).
    pub fn should_try(&self, key_id: &str, now: i64, window_ms: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(key_id).is_some_and(|&at| now - at < window_ms) {
            return false;
        }
        if seen.len() > 100_000 {
            seen.retain(|_, at| now - *at < window_ms);
        }
        seen.insert(key_id.to_string(), now);
        true
    }
}

/// A new signing secret: `whsec_` + base64 of 32 bytes from the OS CSPRNG.
pub fn new_secret() -> String {
    let mut raw = [0u8; 32];
    OsRng.try_fill_bytes(&mut raw).expect("the OS random number generator failed");
    format!("whsec_{}", BASE64.encode(raw))
}

/// The `webhook-signature` value (`v1,<base64 HMAC-SHA256>`) of `body` sent as
/// message `msg_id` at `timestamp` (unix seconds), per Standard Webhooks.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let raw = BASE64.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &raw);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(format!("{msg_id}.{timestamp}.").as_bytes());
    ctx.update(body);
    Some(format!("v1,{}", BASE64.encode(ctx.sign().as_ref())))
}

/// Writes `event` about `key` (with `extra` fields merged into `data`) to the
/// outbox, fanned out to its destinations, on `conn` — the transaction of the
/// change. Returns how many deliveries were queued.
pub async fn enqueue(conn: &mut Conn, event: WebhookEventType, key: &KeyRecord, extra: Value) -> sqlx::Result<usize> {
    let endpoints = store::active_webhook_endpoints(conn, &key.organization_id).await?;
    let mut destinations: Vec<(Option<String>, Option<String>, String)> = endpoints
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
        destinations.push((None, Some(key.id.clone()), url.clone()));
    }
    if destinations.is_empty() {
        return Ok(0);
    }
    let now = now_ms();
    let mut data = json!({ "api_key": crate::app::keys::ApiKey::from(key) });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    let event_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let payload = json!({
        "type": event.as_str(),
        "timestamp": crate::domain::time::ms_to_time(now),
        "data": data,
    });
    store::insert_webhook_event(
        conn,
        &WebhookEventRecord {
            id: event_id.clone(),
            organization_id: key.organization_id.clone(),
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
                id: uuid::Uuid::now_v7().to_string(),
                organization_id: key.organization_id.clone(),
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

/// A webhook URL as saved: absolute http(s), and not a private target unless allowed.
pub fn target(state: &crate::state::AppState, field: &str, url: &str) -> crate::error::ApiResult<String> {
    let url = crate::app::validate::webhook_url(field, url)?;
    let parsed = url::Url::parse(&url).map_err(|e| crate::error::ApiError::invalid_field(field, e))?;
    if let Some(why) = ssrf::refuse_url(&parsed, state.config.webhook_allow_private) {
        return Err(crate::error::ApiError::invalid_field(field, why));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference vector of the Standard Webhooks libraries.
    #[test]
    fn standard_webhooks_vector() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig.as_deref(), Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn event_names_round_trip() {
        for e in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), json!(e.as_str()));
        }
    }

    #[test]
    fn secrets_are_fresh() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a != b);
        assert!(sign(&a, "m", 1, b"x").is_some());
    }
}
