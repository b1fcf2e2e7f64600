//! Guard your own axum (or any tower) service with keyward: feature `axum`.
//!
//! [`RequireKey`] is a [`tower::Layer`]. For every request it reads the key
//! from `Authorization: Bearer <key>` or `x-api-key: <key>`, verifies it with
//! [`Keys::verify`](crate::Keys::verify) (passing the required scopes and, when
//! the server was started with `into_make_service_with_connect_info`, the
//! peer IP for the key's `allowed_ips`), and either rejects the request with a
//! JSON `{error, code}` body or passes it on with a [`VerifiedKey`] in its
//! extensions.
//!
//! | verify outcome | status |
//! |---|---|
//! | no key, `NOT_FOUND`, `MALFORMED`, `REVOKED`, `EXPIRED`, `DISABLED` | 401 |
//! | `INSUFFICIENT_SCOPES`, `FORBIDDEN_IP` | 403 |
//! | `RATE_LIMITED`, `USAGE_EXCEEDED` | 429 (with `Retry-After` when the reset time is known) |
//! | keyward unreachable or refusing this service's own key | 503 |
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use keyward::middleware::{RequireKey, VerifiedKey};
//!
//! async fn reports(key: VerifiedKey) -> String {
//!     format!("hello, {}", key.name.as_deref().unwrap_or("caller"))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let keyward = keyward::Client::from_env()?; // a key with the `keys:verify` scope
//! let app = Router::new()
//!     .route("/reports", get(reports))
//!     .layer(RequireKey::new(keyward).scopes(["reports:read"]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header, request::Parts};

use crate::client::Client;
use crate::generated::types::{VerifyCode, VerifyKeyRequest, VerifyKeyResponse};

/// A [`tower::Layer`] that lets a request through only with a valid keyward
/// key; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct RequireKey {
    guard: Arc<Guard>,
}

#[derive(Debug)]
struct Guard {
    client: Client,
    required_scopes: Vec<String>,
    cost: Option<i64>,
}

impl RequireKey {
    /// Verifies with `client`, whose own key needs the `keys:verify` scope.
    pub fn new(client: Client) -> RequireKey {
        RequireKey { guard: Arc::new(Guard { client, required_scopes: Vec::new(), cost: None }) }
    }

    /// Scopes the presented key must all hold (`*` and `prefix:*` in the
    /// key's scopes match); a key without them gets 403.
    pub fn scopes<I, S>(self, scopes: I) -> RequireKey
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let guard = Guard {
            client: self.guard.client.clone(),
            required_scopes: scopes.into_iter().map(Into::into).collect(),
            cost: self.guard.cost,
        };
        RequireKey { guard: Arc::new(guard) }
    }

    /// Credits and rate-limit tokens each request spends (keyward's default is 1).
    pub fn cost(self, cost: i64) -> RequireKey {
        let guard = Guard {
            client: self.guard.client.clone(),
            required_scopes: self.guard.required_scopes.clone(),
            cost: Some(cost),
        };
        RequireKey { guard: Arc::new(guard) }
    }
}

impl<S> tower::Layer<S> for RequireKey {
    type Service = RequireKeyService<S>;

    fn layer(&self, inner: S) -> RequireKeyService<S> {
        RequireKeyService { inner, guard: Arc::clone(&self.guard) }
    }
}

/// The service [`RequireKey`] wraps around yours.
#[derive(Debug, Clone)]
pub struct RequireKeyService<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S, B> tower::Service<Request<B>> for RequireKeyService<S>
where
    S: tower::Service<Request<B>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // `poll_ready` readied `self.inner`; take that one and leave a fresh
        // clone behind for the next request (tower's documented pattern).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let guard = Arc::clone(&self.guard);
        Box::pin(async move {
            let Some(key) = presented_key(request.headers()) else {
                return Ok(rejection(StatusCode::UNAUTHORIZED, "missing_key", "an API key is required", None));
            };
            let peer_ip = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip().to_string());
            let verify = VerifyKeyRequest {
                key,
                ip: peer_ip,
                required_scopes: Some(guard.required_scopes.clone()).filter(|scopes| !scopes.is_empty()),
                cost: guard.cost,
            };
            match guard.client.keys().verify(verify).await {
                Ok(verdict) if verdict.valid => {
                    request.extensions_mut().insert(VerifiedKey(verdict));
                    inner.call(request).await
                }
                Ok(verdict) => Ok(rejection_for(&verdict)),
                // Fail closed: without an answer from keyward nobody gets in.
                Err(_) => Ok(rejection(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "verification_unavailable",
                    "the API key could not be verified right now",
                    None,
                )),
            }
        })
    }
}

/// The key from `Authorization: Bearer …`, else from `x-api-key`.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let from_header = headers.get("x-api-key").and_then(|value| value.to_str().ok()).map(str::trim);
    bearer.or(from_header).filter(|key| !key.is_empty()).map(str::to_owned)
}

fn rejection_for(verdict: &VerifyKeyResponse) -> Response {
    let (status, message) = match verdict.code {
        VerifyCode::NotFound => (StatusCode::UNAUTHORIZED, "the API key is not valid"),
        VerifyCode::Malformed => (StatusCode::UNAUTHORIZED, "the API key is malformed"),
        VerifyCode::Revoked => (StatusCode::UNAUTHORIZED, "the API key was revoked"),
        VerifyCode::Expired => (StatusCode::UNAUTHORIZED, "the API key has expired"),
        VerifyCode::Disabled => (StatusCode::UNAUTHORIZED, "the API key is disabled"),
        VerifyCode::InsufficientScopes => (StatusCode::FORBIDDEN, "the API key lacks a required scope"),
        VerifyCode::ForbiddenIp => (StatusCode::FORBIDDEN, "the API key may not be used from this IP address"),
        VerifyCode::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "the API key's rate limit is exhausted"),
        VerifyCode::UsageExceeded => (StatusCode::TOO_MANY_REQUESTS, "the API key's usage limit is exhausted"),
        // `valid: false` with VALID would be a keyward bug, and a code newer
        // than this SDK is unknown to it: refuse rather than guess.
        VerifyCode::Valid | VerifyCode::Unknown(_) => (StatusCode::UNAUTHORIZED, "the API key is not valid"),
    };
    let retry_after = match verdict.code {
        VerifyCode::RateLimited => verdict.ratelimit.as_ref().map(|state| {
            let wait = state.reset_at - chrono::Utc::now();
            // Round up: retrying a moment too early would just be rejected again.
            (wait.num_milliseconds().max(0) as u64).div_ceil(1000).max(1)
        }),
        _ => None,
    };
    rejection(status, &verdict.code.to_string().to_ascii_lowercase(), message, retry_after)
}

fn rejection(status: StatusCode, code: &str, message: &str, retry_after_seconds: Option<u64>) -> Response {
    let body = serde_json::json!({ "error": message, "code": code });
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after_seconds {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The verify result of the key that let a request through; [`RequireKey`]
/// puts it in the request's extensions. Take it in a handler as a
/// `VerifiedKey` argument (or `Extension<VerifiedKey>`); it derefs to
/// [`VerifyKeyResponse`] (`key_id`, `organization_id`, `scopes`, `meta`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedKey(pub VerifyKeyResponse);

impl Deref for VerifiedKey {
    type Target = VerifyKeyResponse;

    fn deref(&self) -> &VerifyKeyResponse {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedKey {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<VerifiedKey, Response> {
        parts.extensions.get::<VerifiedKey>().cloned().ok_or_else(|| {
            // Reached only when a route takes a VerifiedKey but RequireKey does not guard it.
            rejection(
                StatusCode::INTERNAL_SERVER_ERROR,
                "guard_missing",
                "this route expects keyward::middleware::RequireKey in front of it",
                None,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_then_x_api_key() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_key(&headers), None);
        headers.insert("x-api-key", HeaderValue::from_static("kw_live_fromheader"));
        assert_eq!(presented_key(&headers).as_deref(), Some("kw_live_fromheader"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer kw_live_frombearer"));
        assert_eq!(presented_key(&headers).as_deref(), Some("kw_live_frombearer"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
        assert_eq!(presented_key(&headers).as_deref(), Some("kw_live_fromheader"));
    }
}
