//! What a key carries besides its secret: limits, quotas and how it came to
//! be — value types shared by the API, webhook payloads and the store.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Requests allowed per window for one key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests (verify `cost` units) allowed per window: 1 to 1 000 000 000.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub limit: u64,
    /// Window length in milliseconds: 1 000 ms to 1 day.
    #[schema(minimum = 1_000, maximum = 86_400_000)]
    pub window_ms: u64,
}

/// Credits a key may spend in total, optionally refilled on an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageLimit {
    /// Credits left; each verify spends `cost` (default 1).
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    pub remaining: u64,
    pub refill: Option<UsageRefill>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRefill {
    /// `remaining` is reset to this amount every interval.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)]
    pub amount: u64,
    /// Interval in milliseconds: 1 000 ms to 366 days.
    #[schema(minimum = 1_000, maximum = 31_622_400_000_u64)]
    pub interval_ms: u64,
}

/// How a key came to be; recorded by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Api,
    Dashboard,
    Bootstrap,
    Rotation,
    Import,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Dashboard => "dashboard",
            Self::Bootstrap => "bootstrap",
            Self::Rotation => "rotation",
            Self::Import => "import",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "dashboard" => Self::Dashboard,
            "bootstrap" => Self::Bootstrap,
            "rotation" => Self::Rotation,
            "import" => Self::Import,
            _ => Self::Api,
        }
    }
}

/// A JSON array of strings as stored (scopes, allowed IPs); anything else reads as empty.
pub fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// The lifecycle fields of a stored key (the stored record or its cached view).
pub trait KeyLifecycle {
    fn revoked_at(&self) -> Option<i64>;
    fn is_active(&self) -> bool;
    fn expires_at(&self) -> Option<i64>;
}

/// Why a stored key cannot be used right now, if it cannot.
pub fn key_unusable_reason(key: &impl KeyLifecycle, now: i64) -> Option<&'static str> {
    if key.revoked_at().is_some_and(|at| at <= now) {
        Some("revoked")
    } else if !key.is_active() {
        Some("disabled")
    } else if key.expires_at().is_some_and(|at| at <= now) {
        Some("expired")
    } else {
        None
    }
}
