//! The events keyward announces about a key (webhooks, Standard Webhooks
//! names): what happened, by its wire name, and which events also go to the
//! key's own `rotation_webhook_url`.

use serde::{Deserialize, Serialize};
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
    pub fn goes_to_rotation_url(self) -> bool {
        matches!(self, Self::ApiKeyRotated | Self::ApiKeyRotationDue)
    }
}
