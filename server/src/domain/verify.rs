//! The outcome codes of a verification: what `POST /v1/keys/verify`
//! answers, what usage counters count and what `/metrics` labels.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a presented key is or is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    NotFound,
    Malformed,
    Revoked,
    Expired,
    ForbiddenIp,
    InsufficientScopes,
    RateLimited,
    UsageExceeded,
    Disabled,
}

impl VerifyCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::NotFound => "NOT_FOUND",
            Self::Malformed => "MALFORMED",
            Self::Revoked => "REVOKED",
            Self::Expired => "EXPIRED",
            Self::ForbiddenIp => "FORBIDDEN_IP",
            Self::InsufficientScopes => "INSUFFICIENT_SCOPES",
            Self::RateLimited => "RATE_LIMITED",
            Self::UsageExceeded => "USAGE_EXCEEDED",
            Self::Disabled => "DISABLED",
        }
    }
}
