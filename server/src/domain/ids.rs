//! Typed ids: a key's id cannot be passed where a project's is expected, and
//! an id is a UUID from the moment the store decodes it
//! (`docs/architecture.md#storage`). The store reads them from TEXT columns
//! and refuses a malformed one with an error naming the column's kind — never
//! a nil UUID standing in for it. The HTTP layer's responses carry them as
//! plain UUIDs, so the contract does not change.

use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};
use uuid::Uuid;

macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident => $what:literal;)+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// What the id names, for error messages (`api key`, `project`, …).
            pub const KIND: &'static str = $what;

            /// A new id: a UUIDv7, so ids sort by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn uuid(self) -> Uuid {
                self.0
            }

            /// `text` as this kind of id; the error names the kind.
            pub fn parse(text: &str) -> Result<Self, MalformedId> {
                Uuid::parse_str(text).map(Self).map_err(|_| MalformedId { kind: $what, text: text.chars().take(64).collect() })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = MalformedId;
            fn from_str(text: &str) -> Result<Self, MalformedId> {
                Self::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl PartialEq<Uuid> for $name {
            fn eq(&self, other: &Uuid) -> bool {
                self.0 == *other
            }
        }
    )+};
}

typed_ids! {
    /// An organization (tenant).
    OrgId => "organization";
    /// A project of an organization.
    ProjectId => "project";
    /// An environment (`live`, `test`, …) of an organization.
    EnvironmentId => "environment";
    /// An API key.
    KeyId => "api key";
    /// A webhook endpoint.
    WebhookEndpointId => "webhook endpoint";
    /// One delivery of a webhook event to one destination.
    WebhookDeliveryId => "webhook delivery";
    /// An entry of the audit log.
    AuditEventId => "audit event";
}

/// A stored or presented id that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedId {
    pub kind: &'static str,
    pub text: String,
}

impl fmt::Display for MalformedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} id {:?}: not a UUID", self.kind, self.text)
    }
}

impl std::error::Error for MalformedId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_non_uuids_by_kind() {
        let id = KeyId::new();
        assert_eq!(KeyId::parse(&id.to_string()), Ok(id));
        assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(id.to_string()));
        let err = ProjectId::parse("not-a-uuid").unwrap_err();
        assert_eq!(err.to_string(), "malformed project id \"not-a-uuid\": not a UUID");
        assert_ne!(KeyId::new(), KeyId::new());
    }
}
