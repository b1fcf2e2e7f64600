//! `GET /v1/api-keys/{id}/usage`: verifications of one key by outcome code,
//! in hourly or daily buckets, from the write-behind `usage_counters`
//! (current to within one flush interval).

use super::api_keys::{TAG, load_visible_key, ms_to_time};
use crate::{
    app::AppState,
    auth::{Caller, Permission},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiQuery, IdPath},
    store::now_ms,
    usage::HOUR_MS,
};
use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Start of the range (RFC 3339), rounded down to a bucket start. Default: 24 h (hour) or 30 days (day) before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (RFC 3339). Default: now.
    pub to: Option<DateTime<Utc>>,
    /// `hour` (default; at most 31 days) or `day` (UTC days; at most 366).
    pub granularity: Option<Granularity>,
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

/// Get an API key's usage
///
/// Verifications of the key by outcome code, in hourly or daily (UTC)
/// buckets. Counters are written behind, so the last second may be missing.
#[utoipa::path(get, path = "/v1/api-keys/{id}/usage", tag = TAG, operation_id = "get_api_key_usage",
    params(("id" = Uuid, Path, description = "API key id"), UsageQuery),
    responses(
        (status = 200, description = "Usage buckets", body = ApiKeyUsage),
        (status = 400, description = "Invalid query parameter (`from`, `to` or `granularity`)", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:read` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_api_key_usage(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Json<ApiKeyUsage>> {
    caller.require(Permission::KeysRead)?;
    let granularity = q.granularity.unwrap_or_default();
    let size = granularity.bucket_ms();
    let to = q.to.map_or_else(now_ms, |t| t.timestamp_millis());
    let from = q.from.map_or(to - granularity.default_span_ms(), |t| t.timestamp_millis());
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
    let key = load_visible_key(&state, &caller, id).await?;
    let rows = crate::store::hourly_counts(state.store.pool(), &key.id, from, to).await?;

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
    Ok(Json(out))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_api_key_usage))
}
