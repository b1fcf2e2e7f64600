//! One call = up to `1 + max_retries` attempts of a generated `send()`, each
//! under the timeout, with backoff between them. Progenitor's `ClientHooks`
//! can only observe a request, so retries wrap `send` here instead; the
//! call's extra headers reach the request through progenitor's pre-hook
//! ([`add_call_headers`]), which reads them from the attempt's task-local.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use progenitor_client::ResponseValue;
use reqwest::header::HeaderMap;

use crate::error::{Error, is_retryable_status};
use crate::generated::types::ErrorBody;
use crate::retry::{RetrySafety, delay_before_retry, parse_retry_after};

tokio::task_local! {
    /// The extra headers of the call whose attempt is being polled.
    static CALL_HEADERS: Arc<HeaderMap>;
}

/// `RequestOptions::extra_headers` as a header map, or the argument error
/// naming the one that cannot be sent.
pub(crate) fn call_headers(extra: &[(String, String)]) -> Result<Arc<HeaderMap>, Error> {
    let mut headers = HeaderMap::new();
    for (name, value) in extra {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::InvalidArgument(format!("extra header name {name:?} is not a valid header name")))?;
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| Error::InvalidArgument(format!("extra header `{name}` has a value that cannot be sent")))?;
        headers.append(name, value);
    }
    Ok(Arc::new(headers))
}

/// Progenitor's pre-hook (`cargo xtask codegen` names it): adds the current
/// call's extra headers to the request about to be sent.
pub(crate) async fn add_call_headers(request: &mut reqwest::Request) -> Result<(), std::convert::Infallible> {
    let _ = CALL_HEADERS.try_with(|extra| {
        for (name, value) in extra.iter() {
            request.headers_mut().insert(name.clone(), value.clone());
        }
    });
    Ok(())
}

/// What a generated builder's `send()` returns on failure.
pub(crate) type GeneratedError = progenitor_client::Error<ErrorBody>;

/// Limits of one facade call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallLimits {
    pub timeout: Duration,
    pub max_retries: u32,
}

/// A failed attempt, with what the retry decision needs besides the error.
struct FailedAttempt {
    error: Error,
    /// The server's `Retry-After`, when it sent one.
    retry_after: Option<Duration>,
    /// False only when the request certainly never reached the server
    /// (connecting failed), so sending it again cannot do anything twice.
    may_have_reached_server: bool,
}

impl FailedAttempt {
    fn is_worth_retrying(&self, safety: RetrySafety) -> bool {
        match &self.error {
            // The server itself said "not now": it did not act on the request.
            Error::Api { status, code, .. } => is_retryable_status(*status, code),
            Error::Timeout | Error::Connection(_) => match safety {
                RetrySafety::Idempotent => true,
                RetrySafety::OnlyIfNotProcessed => !self.may_have_reached_server,
            },
            Error::InvalidConfig(_) | Error::InvalidArgument(_) | Error::Decode(_) => false,
        }
    }
}

/// Runs `send` (which must build a fresh request each time it is called) until
/// it succeeds, fails for good, or `limits.max_retries` retries are used up.
pub(crate) async fn send_with_retries<T, Send, Attempt>(
    limits: CallLimits,
    safety: RetrySafety,
    headers: Arc<HeaderMap>,
    mut send: Send,
) -> Result<ResponseValue<T>, Error>
where
    Send: FnMut() -> Attempt,
    Attempt: Future<Output = Result<ResponseValue<T>, GeneratedError>>,
{
    let mut retries_done = 0;
    loop {
        // Reading an error body happens inside the timeout too: a server that
        // stalls mid-body must not hang the call.
        let attempt = CALL_HEADERS.scope(Arc::clone(&headers), async {
            match send().await {
                Ok(value) => Ok(value),
                Err(error) => Err(describe_failure(error).await),
            }
        });
        let failure = match tokio::time::timeout(limits.timeout, attempt).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failure)) => failure,
            Err(_elapsed) => FailedAttempt { error: Error::Timeout, retry_after: None, may_have_reached_server: true },
        };
        if retries_done >= limits.max_retries || !failure.is_worth_retrying(safety) {
            return Err(failure.error);
        }
        let Some(delay) = delay_before_retry(retries_done, failure.retry_after) else {
            return Err(failure.error);
        };
        tokio::time::sleep(delay).await;
        retries_done += 1;
    }
}

/// Turns progenitor's error into the facade's, reading the error body when the
/// generated code left the response unread (statuses the spec does not list
/// for the operation, such as 429, 503 or a proxy's 502).
async fn describe_failure(error: GeneratedError) -> FailedAttempt {
    use progenitor_client::Error as Generated;
    match error {
        Generated::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            let header_request_id = request_id(response.headers());
            let body = response.into_inner();
            let request_id = Some(body.request_id).filter(|id| !id.is_empty()).or(header_request_id);
            FailedAttempt {
                error: Error::Api { status, code: body.code, message: body.error, request_id },
                retry_after,
                may_have_reached_server: true,
            }
        }
        Generated::UnexpectedResponse(response) => describe_unexpected_response(response).await,
        Generated::CommunicationError(error) | Generated::InvalidUpgrade(error) => FailedAttempt {
            may_have_reached_server: !error.is_connect(),
            error: transport_error(&error),
            retry_after: None,
        },
        Generated::ResponseBodyError(error) => {
            FailedAttempt { error: transport_error(&error), retry_after: None, may_have_reached_server: true }
        }
        Generated::InvalidResponsePayload(_, error) => {
            FailedAttempt { error: Error::Decode(error.to_string()), retry_after: None, may_have_reached_server: true }
        }
        // Raised before anything is sent: a builder argument failed to convert.
        Generated::InvalidRequest(message) => {
            FailedAttempt { error: Error::InvalidConfig(message), retry_after: None, may_have_reached_server: false }
        }
        // Only hooks raise `Custom`, and the facade installs none.
        Generated::Custom(message) => {
            FailedAttempt { error: Error::Decode(message), retry_after: None, may_have_reached_server: true }
        }
    }
}

/// Longest error body kept in a message when it is not keyward's JSON shape.
const MAX_FOREIGN_BODY_CHARS: usize = 200;

async fn describe_unexpected_response(response: reqwest::Response) -> FailedAttempt {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let header_request_id = request_id(response.headers());
    if status.is_success() {
        // A success the spec does not list for this operation: server and SDK disagree.
        return FailedAttempt {
            error: Error::Decode(format!("unexpected success status {status} for this operation")),
            retry_after: None,
            may_have_reached_server: true,
        };
    }
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            return FailedAttempt { error: transport_error(&error), retry_after, may_have_reached_server: true };
        }
    };
    let error = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(parsed) => Error::Api {
            status: status.as_u16(),
            code: parsed.code,
            message: parsed.error,
            request_id: Some(parsed.request_id).filter(|id| !id.is_empty()).or(header_request_id),
        },
        // Not keyward's error shape (a proxy or load balancer answered).
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            let message = if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text.chars().take(MAX_FOREIGN_BODY_CHARS).collect()
            };
            Error::Api {
                status: status.as_u16(),
                code: format!("http_{}", status.as_u16()),
                message,
                request_id: header_request_id,
            }
        }
    };
    FailedAttempt { error, retry_after, may_have_reached_server: true }
}

fn transport_error(error: &reqwest::Error) -> Error {
    if error.is_timeout() {
        return Error::Timeout;
    }
    // reqwest's own message is generic ("error sending request"); the cause
    // ("connection refused", "dns error") is what a user can act on.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Connection(message)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok().and_then(parse_retry_after)
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-request-id")?.to_str().ok().map(str::to_owned)
}
