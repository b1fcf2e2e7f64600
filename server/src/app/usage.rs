//! Usage reports: verifications of one key by outcome code, in hourly or
//! daily buckets, from the write-behind `usage_counters` (current to within
//! one flush interval: `docs/architecture.md#the-verify-path`).

use crate::{
    app::{AppState, caller::Caller, keys::load_visible_key},
    domain::{access::Permission, time::ms_to_time},
    error::{ApiError, ApiResult},
    store,
    usage::HOUR_MS,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

const DAY_MS: i64 = 24 * HOUR_MS;

/// Bucket size of a usage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    #[default]
    Hour,
    Day,
}

impl Granularity {
    fn bucket_ms(self) -> i64 {
        match self {
            Self::Hour => HOUR_MS,
            Self::Day => DAY_MS,
        }
    }
    /// The longest range one report may cover.
    fn max_buckets(self) -> i64 {
        match self {
            Self::Hour => 31 * 24,
            Self::Day => 366,
        }
    }
    fn default_span_ms(self) -> i64 {
        match self {
            Self::Hour => DAY_MS,
            Self::Day => 30 * DAY_MS,
        }
    }
}

/// Verifications in one bucket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UsageBucket {
    /// Start of the bucket (RFC 3339, UTC).
    pub start: DateTime<Utc>,
    /// All verifications in the bucket.
    pub total: i64,
    /// Verifications by outcome code (`VALID`, `RATE_LIMITED`, …); codes with none are left out.
    pub counts: BTreeMap<String, i64>,
}

/// Verifications of one key over a time range.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyUsage {
    pub key_id: Uuid,
    pub granularity: Granularity,
    /// Start of the first bucket.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: DateTime<Utc>,
    /// All verifications in the range.
    pub total: i64,
    /// Verifications in the range by outcome code.
    pub counts: BTreeMap<String, i64>,
    /// Every bucket of the range in order, empty ones included.
    pub buckets: Vec<UsageBucket>,
}

/// The usage of key `id` from `from` (default: one span of `granularity`
/// before `to`) to `to` (default: now), for `caller` (which needs `keys:read`).
pub async fn key_usage(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    granularity: Granularity,
) -> ApiResult<ApiKeyUsage> {
    caller.require(Permission::KeysRead)?;
    let size = granularity.bucket_ms();
    let to = to.map_or_else(|| state.config.clock.now_ms(), |t| t.timestamp_millis());
    let from = from.map_or(to - granularity.default_span_ms(), |t| t.timestamp_millis());
    if from >= to {
        return Err(ApiError::invalid_field("from", "must be before `to`"));
    }
    let from = from - from.rem_euclid(size);
    let buckets = (to - from + size - 1) / size;
    if buckets > granularity.max_buckets() {
        return Err(ApiError::invalid_field(
            "from",
            format!(
                "the range from `from` to `to` may span at most {} buckets of this granularity",
                granularity.max_buckets()
            ),
        ));
    }
    let key = load_visible_key(state, caller, id).await?;
    let rows = store::hourly_counts(state.store.pool(), &key.id, from, to).await?;

    let mut out = ApiKeyUsage {
        key_id: id,
        granularity,
        from: ms_to_time(from),
        to: ms_to_time(to),
        total: 0,
        counts: BTreeMap::new(),
        buckets: (0..buckets)
            .map(|i| UsageBucket { start: ms_to_time(from + i * size), total: 0, counts: BTreeMap::new() })
            .collect(),
    };
    for (hour, code, n) in rows {
        let Some(bucket) = out.buckets.get_mut(((hour - from) / size) as usize) else { continue };
        bucket.total += n;
        *bucket.counts.entry(code.clone()).or_default() += n;
        out.total += n;
        *out.counts.entry(code).or_default() += n;
    }
    Ok(out)
}
