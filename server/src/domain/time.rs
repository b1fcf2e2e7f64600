//! Time as the store keeps it: Unix milliseconds (`BIGINT` on both
//! backends), shown as RFC 3339 UTC.

use chrono::{DateTime, TimeZone, Utc};
use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Unix milliseconds as a UTC time (out of range: the Unix epoch).
pub fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Where the use cases read "now": the system clock, or one a test sets and
/// moves, so tests of expiry, grace periods and schedules need not sleep.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `start_ms` until moved.
    pub fn manual(start_ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(start_ms))))
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => Utc::now().timestamp_millis(),
            Some(at) => at.load(Ordering::Acquire),
        }
    }

    /// Moves a manual clock forward by `ms` (the system clock moves by itself).
    pub fn advance(&self, ms: i64) {
        if let Some(at) = &self.0 {
            at.fetch_add(ms, Ordering::AcqRel);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::system"),
            Some(at) => write!(f, "Clock::manual({})", at.load(Ordering::Acquire)),
        }
    }
}
