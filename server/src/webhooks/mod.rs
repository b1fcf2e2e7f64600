//! Signed webhooks (Standard Webhooks): signing, the
//! outgoing HTTP client and its SSRF guard ([`ssrf`]). The outbox writer every
//! key change calls inside its own transaction is [`crate::app::outbox`]; the
//! delivery worker is [`crate::jobs::delivery`].
//!
//! An event is written to `webhook_events` with one `webhook_deliveries` row
//! per destination in the same transaction as the change it announces, so an
//! event exists exactly when its change committed and survives a crash before
//! delivery. Destinations: the organization's active endpoints whose filter
//! takes the event type, and, for rotation events, the key's own
//! `rotation_webhook_url`.

pub mod client;
pub mod ssrf;

pub use client::client;

use crate::domain::ids::KeyId;
use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use rand::{TryRngCore, rngs::OsRng};

pub use crate::domain::events::WebhookEventType;

/// Keys this process recently tried to claim a once-only event for, so a key
/// refused on every verify costs one store write per `window`, not one per
/// request. The store's marker still decides who announces, and only once.
#[derive(Default)]
pub struct RecentClaims {
    seen: std::sync::Mutex<std::collections::HashMap<KeyId, i64>>,
}

impl RecentClaims {
    /// True when `key_id` was not tried within `window_ms` (and records this try).
    pub fn should_try(&self, key_id: KeyId, now: i64, window_ms: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(&key_id).is_some_and(|&at| now - at < window_ms) {
            return false;
        }
        if seen.len() > 100_000 {
            seen.retain(|_, at| now - *at < window_ms);
        }
        seen.insert(key_id, now);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
