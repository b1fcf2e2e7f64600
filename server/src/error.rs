//! One error enum for the whole API, mapped to HTTP in one place. Every 4xx/5xx
//! body is `{error, code, request_id}`; `code` is stable and snake_case.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, so errors built deep inside a
    /// handler can carry it without threading it through every call.
    static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "name: must be 1-200 characters", "code": "invalid_request", "request_id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70"}))]
pub struct ErrorBody {
    /// Human-readable message; names the offending field for validation errors.
    pub error: String,
    /// Stable machine-readable code, e.g. `not_found`, `invalid_request`.
    pub code: String,
    /// The `x-request-id` of the request, for support and log correlation.
    pub request_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// The caller tried to grant (or act on a key holding) more than it holds itself.
    #[error("{0}")]
    InsufficientScope(String),
    /// The calling key's `allowed_ips` do not include the client address.
    #[error("this API key may not be used from {0}")]
    IpNotAllowed(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The same Idempotency-Key is still being executed: retry shortly.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    IdempotencyInProgress,
    #[error("request body is larger than the 64 KiB limit")]
    PayloadTooLarge,
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64, limit: u64, remaining: u64, reset_at_unix: i64 },
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// An organization reached a configured limit (e.g. `webhook_max_endpoints`).
    #[error("{0}")]
    LimitReached(String),
    /// Postgres without `KEYWARD_SECRETS_KEY`: webhook secrets cannot be stored.
    #[error(
        "KEYWARD_SECRETS_KEY is not set on this server, so webhook secrets cannot be stored; ask the operator to set it"
    )]
    SecretsKeyMissing,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }
    /// A validation failure on one field: the message always names the field.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::BadRequest(format!("{field}: {problem}"))
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::InsufficientScope(_) | Self::IpNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::IdempotencyInProgress | Self::LimitReached(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::SecretsKeyMissing => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid_request",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "permission_denied",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::IpNotAllowed(_) => "ip_not_allowed",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::IdempotencyInProgress => "idempotency_in_progress",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::LimitReached(_) => "limit_reached",
            Self::SecretsKeyMissing => "secrets_key_missing",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                Self::Unavailable
            }
            _ => Self::Internal(err.into()),
        }
    }
}

impl From<crate::secrets::SecretsError> for ApiError {
    fn from(err: crate::secrets::SecretsError) -> Self {
        match err {
            crate::secrets::SecretsError::KeyMissing => Self::SecretsKeyMissing,
            other => Self::Internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

pub fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    let body = ErrorBody { error: message, code: code.to_string(), request_id: current_request_id() };
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(err) = &self {
            // The chain can name a query or a constraint; it never holds a key,
            // because plaintexts are never bound into queries.
            tracing::error!(error = ?err, "internal error");
        }
        let mut response = error_response(self.status(), self.code(), self.to_string());
        if let Self::IdempotencyInProgress = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        if let Self::RateLimited { retry_after_secs, limit, remaining, reset_at_unix, .. } = self {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
            headers.insert("x-ratelimit-reset", HeaderValue::from(reset_at_unix));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Outermost middleware: runs the request inside its request-id scope and turns
/// every error response that is not already our JSON shape (axum's 404/405,
/// body-limit 413, a panic caught below) into the common error body.
pub async fn request_scope(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    REQUEST_ID
        .scope(request_id.clone(), async move {
            let mut response = next.run(request).await;
            let status = response.status();
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            if (status.is_client_error() || status.is_server_error()) && !is_json {
                let (code, message) = default_error_for(status);
                let mut replaced = error_response(status, code, message.to_string());
                for name in [header::ALLOW, header::RETRY_AFTER] {
                    if let Some(v) = response.headers().get(&name) {
                        replaced.headers_mut().insert(name, v.clone());
                    }
                }
                response = replaced;
            }
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", v);
            }
            response
        })
        .await
}

fn default_error_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed on this route"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body is larger than the 64 KiB limit"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "expected Content-Type: application/json"),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "request timed out"),
        // tower-http's TimeoutLayer: the request ran past `request_timeout`.
        StatusCode::SERVICE_UNAVAILABLE => ("timeout", "the request took longer than the server allows; retry later"),
        s if s.is_server_error() => ("internal_error", "internal error"),
        _ => ("invalid_request", "invalid request"),
    }
}

/// More requests in progress than `max_concurrent_requests`: shed at once
/// with a hint when to come back, rather than queued without bound.
pub fn overloaded_response() -> Response {
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "the server is at its limit of requests in progress; retry shortly".to_string(),
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1));
    response
}

/// Turns a panic inside a handler into a logged 500 instead of a dropped
/// connection (tower-http's CatchPanic calls this).
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error".into())
}
