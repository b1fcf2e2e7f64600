//! What a project holds besides its name: the policies it sets for its keys —
//! how soon the scheduler warns of an expiry or a due rotation, and what a
//! leak report does to a key (`docs/architecture.md#domain`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default `expiry_warning_days` for keys without a project setting.
pub const DEFAULT_WARNING_DAYS: i64 = 7;

/// What a leak report does to a matching key of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeakPolicy {
    /// Revoke the key at once (the default).
    #[default]
    Revoke,
    /// Only record it: audit event and `api_key.leaked` webhook.
    Flag,
}

impl LeakPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Flag => "flag",
        }
    }

    /// The policy stored as `stored` (none or unknown: the default, revoke).
    pub fn parse(stored: Option<&str>) -> Self {
        match stored {
            Some("flag") => Self::Flag,
            _ => Self::Revoke,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_policies_read_back_and_anything_else_revokes() {
        for policy in [LeakPolicy::Revoke, LeakPolicy::Flag] {
            assert_eq!(LeakPolicy::parse(Some(policy.as_str())), policy);
        }
        assert_eq!(LeakPolicy::parse(None), LeakPolicy::Revoke);
        assert_eq!(LeakPolicy::parse(Some("quarantine")), LeakPolicy::Revoke);
    }
}
