//! Liveness and readiness, unauthenticated.

use crate::{app::AppState, error::ErrorBody};
use axum::{Json, extract::State};
use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` when serving.
    pub status: String,
}

/// Liveness
///
/// Answers 200 while the process serves requests; it reads nothing and needs no credentials.
#[utoipa::path(get, path = "/healthz", tag = "system", operation_id = "healthz", security(),
    responses((status = 200, description = "The process is serving", body = HealthStatus)))]
pub async fn healthz() -> Json<HealthStatus> {
    Json(HealthStatus { status: "ok".into() })
}

/// Readiness (checks the database)
///
/// Answers 200 when the database answers a ping, 503 when it does not; needs no credentials.
#[utoipa::path(get, path = "/readyz", tag = "system", operation_id = "readyz", security(),
    responses(
        (status = 200, description = "The database answers", body = HealthStatus),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<HealthStatus>, crate::error::ApiError> {
    state.store.ping().await.map_err(|err| {
        tracing::warn!(error = %err, "readiness check failed");
        crate::error::ApiError::Unavailable
    })?;
    Ok(Json(HealthStatus { status: "ok".into() }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// `GET /metrics` (unauthenticated; not mounted when `metrics = false`).
pub async fn metrics_handler(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state.keys, &state.limiter, &state.store);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body)
        .into_response()
}
