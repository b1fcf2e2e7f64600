//! Guard your own axum (or any tower) service with keyward: feature `axum`.
//!
//! [`RequireKey`] is a [`tower::Layer`]. For every request it reads the key
//! from `Authorization: Bearer <key>` or `x-api-key: <key>`, verifies it with
//! [`Keys::verify`](crate::Keys::verify) (passing the required scopes and, when
//! the server was started with `into_make_service_with_connect_info`, the
//! peer IP for the key's `allowed_ips`), and either rejects the request or
//! passes it on with a [`VerifiedKey`] in its extensions.
//!
//! A rejection is the body, status and `WWW-Authenticate` header the Python
//! and Node guards answer with too (`docs/sdk-contract.md`, "Guards: the
//! rejection contract"): JSON `{"error", "code", "request_id"}`, `code` in
//! snake_case.
//!
//! | verify outcome | status | `code` |
//! |---|---|---|
//! | no key | 401 | `missing_key` |
//! | `NOT_FOUND`, `MALFORMED`, `REVOKED`, `EXPIRED`, `DISABLED` | 401 | the verify code, lower-cased |
//! | `INSUFFICIENT_SCOPES`, `FORBIDDEN_IP` | 403 | `insufficient_scopes`, `forbidden_ip` |
//! | `RATE_LIMITED`, `USAGE_EXCEEDED` | 429 (with `Retry-After` when the reset time is known) | `rate_limited`, `usage_exceeded` |
//! | keyward unreachable or refusing this service's own key | 503 | `verification_unavailable` |
//!
//! The guard fails loudly: [`RequireKey::from_env`] refuses to build without
//! `KEYWARD_API_KEY` and `KEYWARD_BASE_URL`, and when keyward refuses the
//! guard's own key (401/403: a wrong key, or one without `keys:verify`) or
//! cannot be reached, it logs that through `tracing` (target
//! `keyward::middleware`, at most once per [`RequireKey::log_interval`]) while
//! every guarded request answers 503.
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
//! // KEYWARD_API_KEY (a key with the `keys:verify` scope) and KEYWARD_BASE_URL.
//! let guard = RequireKey::from_env()?;
//! let app = Router::new().route("/reports", get(reports)).layer(guard.scopes(["reports:read"]));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Request, StatusCode, header, request::Parts};

use crate::client::{API_KEY_ENV, BASE_URL_ENV, Client};
use crate::error::Error;
use crate::generated::types::{VerifyCode, VerifyKeyRequest, VerifyKeyResponse};

/// How often, at most, the guard logs that keyward refuses its key or cannot
/// be reached (per kind of problem).
pub const DEFAULT_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The realm every guard names in `WWW-Authenticate`.
const REALM: &str = "keyward";

/// What a hook given to [`RequireKey::on_reject`] turns a [`Rejection`] into.
type RejectHook = dyn Fn(Rejection) -> Response + Send + Sync;

/// A [`tower::Layer`] that lets a request through only with a valid keyward
/// key; see the [module docs](self).
#[derive(Clone)]
pub struct RequireKey {
    guard: Arc<Guard>,
}

#[derive(Clone)]
struct Guard {
    client: Client,
    required_scopes: Vec<String>,
    cost: Option<i64>,
    on_reject: Option<Arc<RejectHook>>,
    log_interval: Duration,
    /// Shared by every layer and service built from one `RequireKey::new`.
    alerts: Arc<Alerts>,
}

impl fmt::Debug for RequireKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireKey")
            .field("client", &self.guard.client)
            .field("required_scopes", &self.guard.required_scopes)
            .field("cost", &self.guard.cost)
            .field("on_reject", &self.guard.on_reject.as_ref().map(|_| "Fn(Rejection) -> Response"))
            .field("log_interval", &self.guard.log_interval)
            .finish()
    }
}

impl RequireKey {
    /// Verifies with `client`, whose own key needs the `keys:verify` scope.
    pub fn new(client: Client) -> RequireKey {
        RequireKey {
            guard: Arc::new(Guard {
                client,
                required_scopes: Vec::new(),
                cost: None,
                on_reject: None,
                log_interval: DEFAULT_LOG_INTERVAL,
                alerts: Arc::new(Alerts::default()),
            }),
        }
    }

    /// A guard verifying with the key in `KEYWARD_API_KEY` at the server in
    /// `KEYWARD_BASE_URL`, both required: call it while the application
    /// starts, so a missing variable stops the start with
    /// [`Error::InvalidConfig`] naming it instead of failing requests later.
    /// (`Client::from_env` falls back to `http://127.0.0.1:8080`; a guard
    /// does not guess where keyward is.)
    pub fn from_env() -> Result<RequireKey, Error> {
        RequireKey::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<RequireKey, Error> {
        let setting = |name: &str| var(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let api_key = setting(API_KEY_ENV).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "keyward guard: {API_KEY_ENV} is not set; set it to a keyward API key with the keys:verify scope"
            ))
        })?;
        let base_url = setting(BASE_URL_ENV).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "keyward guard: {BASE_URL_ENV} is not set; set it to the keyward server's URL, e.g. https://keys.example.com"
            ))
        })?;
        Ok(RequireKey::new(Client::builder().api_key(api_key).base_url(base_url).build()?))
    }

    fn with(self, change: impl FnOnce(&mut Guard)) -> RequireKey {
        let mut guard = Guard::clone(&self.guard);
        change(&mut guard);
        RequireKey { guard: Arc::new(guard) }
    }

    /// Scopes the presented key must all hold (`*` and `prefix:*` in the
    /// key's scopes match); a key without them gets 403.
    pub fn scopes<I, S>(self, scopes: I) -> RequireKey
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with(|guard| guard.required_scopes = scopes.into_iter().map(Into::into).collect())
    }

    /// Credits and rate-limit tokens each request spends (keyward's default is 1).
    pub fn cost(self, cost: i64) -> RequireKey {
        self.with(|guard| guard.cost = Some(cost))
    }

    /// Answers rejected requests with `hook(rejection)` instead of the
    /// documented body; [`Rejection::into_response`] is that body, to start
    /// from.
    pub fn on_reject<F>(self, hook: F) -> RequireKey
    where
        F: Fn(Rejection) -> Response + Send + Sync + 'static,
    {
        self.with(|guard| guard.on_reject = Some(Arc::new(hook)))
    }

    /// How often, at most, the guard logs each kind of problem with keyward
    /// itself (its key refused; keyward unreachable). Default 60 s.
    pub fn log_interval(self, interval: Duration) -> RequireKey {
        self.with(|guard| guard.log_interval = interval)
    }
}

impl<S> tower::Layer<S> for RequireKey {
    type Service = RequireKeyService<S>;

    fn layer(&self, inner: S) -> RequireKeyService<S> {
        RequireKeyService { inner, guard: Arc::clone(&self.guard) }
    }
}

/// The service [`RequireKey`] wraps around yours.
#[derive(Clone)]
pub struct RequireKeyService<S> {
    inner: S,
    guard: Arc<Guard>,
}

impl<S: fmt::Debug> fmt::Debug for RequireKeyService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireKeyService").field("inner", &self.inner).finish_non_exhaustive()
    }
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
            let request_id = request_id(request.headers());
            let Some(key) = presented_key(request.headers()) else {
                return Ok(guard.reject(Rejection::missing_key(request_id)));
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
                Ok(verdict) => Ok(guard.reject(Rejection::for_verdict(verdict, &guard.required_scopes, request_id))),
                // Fail closed: without an answer from keyward nobody gets in.
                Err(error) => {
                    guard.alert(&error);
                    Ok(guard.reject(Rejection::unavailable(error, request_id)))
                }
            }
        })
    }
}

impl Guard {
    fn reject(&self, rejection: Rejection) -> Response {
        match &self.on_reject {
            Some(hook) => hook(rejection),
            None => rejection.into_response(),
        }
    }

    /// Logs why keyward gave no verdict, once per `log_interval` per kind:
    /// the request only says 503, so this is where an operator learns that
    /// the guard's own key is wrong or keyward is down.
    fn alert(&self, error: &Error) {
        let kind = Problem::of(error);
        if !self.alerts.due(kind, self.log_interval, Instant::now()) {
            return;
        }
        let base_url = self.client.base_url();
        let every = self.log_interval.as_secs();
        match kind {
            Problem::Configuration => tracing::error!(
                target: "keyward::middleware",
                problem = "configuration",
                %error,
                base_url,
                "keyward guard misconfigured: keyward at {base_url} refused the guard's own API key ({error}); \
                 {API_KEY_ENV} must be a valid key with the keys:verify scope. Every guarded request answers 503 \
                 until this is fixed (logged at most once per {every} s)"
            ),
            Problem::Outage => tracing::error!(
                target: "keyward::middleware",
                problem = "outage",
                %error,
                base_url,
                "keyward guard cannot verify keys: keyward at {base_url} is unreachable or failing ({error}); \
                 guarded requests answer 503 (logged at most once per {every} s)"
            ),
        }
    }
}

/// The two things that can be wrong with keyward itself, each logged on its
/// own schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    /// keyward answered 401/403 to the guard's own key.
    Configuration,
    /// No answer: connection refused, timeout, 5xx, an undecodable body.
    Outage,
}

impl Problem {
    fn of(error: &Error) -> Problem {
        match error.status() {
            Some(401 | 403) => Problem::Configuration,
            _ => Problem::Outage,
        }
    }
}

/// When each kind of problem was last logged.
#[derive(Debug, Default)]
struct Alerts {
    last: Mutex<[Option<Instant>; 2]>,
}

impl Alerts {
    /// True (and records `now`) when `kind` was not logged within `interval`.
    fn due(&self, kind: Problem, interval: Duration, now: Instant) -> bool {
        let slot = match kind {
            Problem::Configuration => 0,
            Problem::Outage => 1,
        };
        // A poisoned lock only means a panic elsewhere; the timestamps are still usable.
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match last[slot] {
            Some(at) if now.saturating_duration_since(at) < interval => false,
            _ => {
                last[slot] = Some(now);
                true
            }
        }
    }
}

/// Why a request was turned away, and what the guard answers: give
/// [`RequireKey::on_reject`] a hook to answer differently.
///
/// [`into_response`](Rejection::into_response) is the documented answer:
/// `status`, a JSON body `{"error": message, "code": code, "request_id":
/// request_id}`, `WWW-Authenticate` when `www_authenticate` is set and
/// `Retry-After` when `retry_after` is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rejection {
    /// 401, 403, 429 or 503.
    pub status: StatusCode,
    /// snake_case: `missing_key`, a lower-cased verify code (`revoked`,
    /// `insufficient_scopes`, …) or `verification_unavailable`.
    pub code: String,
    /// A human-readable sentence, the same in every keyward SDK.
    pub message: String,
    /// The request's own `x-request-id`, when it carried a usable one.
    pub request_id: Option<String>,
    /// The `WWW-Authenticate` value, e.g. `Bearer realm="keyward", error="invalid_token"`.
    pub www_authenticate: Option<String>,
    /// Seconds until a rate-limited key may try again.
    pub retry_after: Option<u64>,
    /// keyward's verdict, when it gave one (`valid: false`).
    pub verdict: Option<VerifyKeyResponse>,
    /// Why keyward gave no verdict (the 503 case).
    pub error: Option<Error>,
}

impl Rejection {
    fn new(status: StatusCode, code: impl Into<String>, message: &str, request_id: Option<String>) -> Rejection {
        Rejection {
            status,
            code: code.into(),
            message: message.to_owned(),
            request_id,
            www_authenticate: None,
            retry_after: None,
            verdict: None,
            error: None,
        }
    }

    fn missing_key(request_id: Option<String>) -> Rejection {
        let mut rejection = Rejection::new(
            StatusCode::UNAUTHORIZED,
            "missing_key",
            "an API key is required: send it as Authorization: Bearer <key> or x-api-key",
            request_id,
        );
        // RFC 6750 §3.1: no error attribute when no credentials were sent.
        rejection.www_authenticate = Some(format!("Bearer realm=\"{REALM}\""));
        rejection
    }

    fn for_verdict(verdict: VerifyKeyResponse, required_scopes: &[String], request_id: Option<String>) -> Rejection {
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
            VerifyCode::Valid | VerifyCode::Unknown(_) => (StatusCode::UNAUTHORIZED, "the API key was rejected"),
        };
        let mut rejection = Rejection::new(status, verdict.code.to_string().to_ascii_lowercase(), message, request_id);
        rejection.www_authenticate = match verdict.code {
            VerifyCode::InsufficientScopes => {
                let mut value = format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\"");
                if !required_scopes.is_empty() {
                    value.push_str(&format!(", scope=\"{}\"", required_scopes.join(" ")));
                }
                Some(value)
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                Some(format!("Bearer realm=\"{REALM}\", error=\"invalid_token\""))
            }
            _ => None,
        };
        rejection.retry_after = match verdict.code {
            VerifyCode::RateLimited => verdict.ratelimit.as_ref().map(|state| {
                let wait = state.reset_at - chrono::Utc::now();
                // Round up: retrying a moment too early would just be rejected again.
                (wait.num_milliseconds().max(0) as u64).div_ceil(1000).max(1)
            }),
            _ => None,
        };
        rejection.verdict = Some(verdict);
        rejection
    }

    fn unavailable(error: Error, request_id: Option<String>) -> Rejection {
        let mut rejection = Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "verification_unavailable",
            "the API key could not be verified right now",
            request_id,
        );
        rejection.error = Some(error);
        rejection
    }

    /// The JSON body: `{"error", "code", "request_id"}` (`request_id` null
    /// when the request carried none).
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.message, "code": self.code, "request_id": self.request_id })
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(value) = self.www_authenticate.as_deref().and_then(|value| HeaderValue::from_str(value).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
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

/// The request's `x-request-id` (set by a proxy or load balancer), when it is
/// one the keyward server would accept too: 1–200 visible ASCII characters.
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty() && value.len() <= 200 && value.bytes().all(|byte| byte.is_ascii_graphic()))
        .map(str::to_owned)
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
            Rejection::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "guard_missing",
                "this route expects keyward::middleware::RequireKey in front of it",
                None,
            )
            .into_response()
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

    #[test]
    fn from_env_names_the_missing_variable() {
        let error = RequireKey::from_lookup(|name: &str| (name == BASE_URL_ENV).then(|| "http://127.0.0.1:9".into()))
            .expect_err("no key");
        assert!(matches!(&error, Error::InvalidConfig(message) if message.contains("KEYWARD_API_KEY")), "{error}");
        let error =
            RequireKey::from_lookup(
                |name: &str| {
                    if name == API_KEY_ENV { Some("kw_live_x".into()) } else { Some("   ".into()) }
                },
            )
            .expect_err("blank base URL");
        assert!(matches!(&error, Error::InvalidConfig(message) if message.contains("KEYWARD_BASE_URL")), "{error}");
        let built = RequireKey::from_lookup(|name: &str| match name {
            API_KEY_ENV => Some("kw_live_x".into()),
            BASE_URL_ENV => Some("http://127.0.0.1:9".into()),
            _ => None,
        });
        assert!(built.is_ok());
    }

    #[test]
    fn alerts_are_rate_limited_per_kind() {
        let alerts = Alerts::default();
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        assert!(alerts.due(Problem::Configuration, minute, start));
        assert!(!alerts.due(Problem::Configuration, minute, start + Duration::from_secs(59)));
        assert!(alerts.due(Problem::Outage, minute, start + Duration::from_secs(1)), "kinds are separate");
        assert!(alerts.due(Problem::Configuration, minute, start + minute));
    }

    #[test]
    fn problems_are_classified_by_status() {
        let api = |status| Error::Api { status, code: "x".into(), message: "x".into(), request_id: None };
        assert_eq!(Problem::of(&api(401)), Problem::Configuration);
        assert_eq!(Problem::of(&api(403)), Problem::Configuration);
        assert_eq!(Problem::of(&api(503)), Problem::Outage);
        assert_eq!(Problem::of(&Error::Timeout), Problem::Outage);
        assert_eq!(Problem::of(&Error::Connection("refused".into())), Problem::Outage);
    }

    #[test]
    fn request_ids_are_taken_only_when_sane() {
        let mut headers = HeaderMap::new();
        assert_eq!(request_id(&headers), None);
        headers.insert("x-request-id", HeaderValue::from_static("req-123"));
        assert_eq!(request_id(&headers).as_deref(), Some("req-123"));
        headers.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_eq!(request_id(&headers), None);
    }
}
