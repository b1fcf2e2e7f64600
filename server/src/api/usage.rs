//! `GET /v1/api-keys/{id}/usage`: verifications of one key by outcome code,
//! in hourly or daily buckets, from the write-behind `usage_counters`
//! (current to within one flush interval).

use super::api_keys::TAG;
pub use crate::app::usage::{ApiKeyUsage, Granularity, UsageBucket};
use crate::{
    app::{self, AppState},
    auth::Caller,
    error::{ApiResult, ErrorBody},
    extract::{ApiQuery, IdPath},
};
use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

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
    Ok(Json(app::usage::key_usage(&state, &caller, id, q.from, q.to, q.granularity.unwrap_or_default()).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_api_key_usage))
}
