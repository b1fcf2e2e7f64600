//! Time as the store keeps it: Unix milliseconds (`BIGINT` on both
//! backends), shown as RFC 3339 UTC.

use chrono::{DateTime, TimeZone, Utc};

/// Unix milliseconds as a UTC time (out of range: the Unix epoch).
pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
