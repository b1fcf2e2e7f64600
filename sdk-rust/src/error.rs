//! The one error type every facade call returns.

use std::fmt;

/// Everything a keyward call can fail with.
///
/// Match on the variant, or use the helpers ([`Error::is_not_found`],
/// [`Error::status`], …) which read the same for every failure.
///
/// ```
/// # fn handle(err: keyward::Error) {
/// if err.is_not_found() {
///     // the key was deleted, or belongs to another tenant
/// } else if err.is_rate_limited() {
///     // back off; the SDK already retried `max_retries` times
/// } else {
///     eprintln!("keyward: {err}"); // e.g. "404 not_found: api key not found (request_id 01J…)"
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server answered with an error status (4xx or 5xx).
    ///
    /// The body of every keyward error is `{error, code, request_id}`.
    Api {
        /// HTTP status, e.g. 404.
        status: u16,
        /// Stable snake_case identifier, e.g. `not_found`, `invalid_request`.
        /// When the body was not keyward's (a proxy's 502, say) this is
        /// `http_<status>`.
        code: String,
        /// Human-readable message; for validation errors it names the field.
        message: String,
        /// The request's `x-request-id`, for support and log correlation.
        request_id: Option<String>,
    },
    /// No complete response arrived within the timeout (after any retries).
    Timeout,
    /// The request could not reach the server, or the connection broke
    /// (after any retries).
    Connection(String),
    /// The client configuration or a request argument is invalid; nothing was
    /// sent.
    InvalidConfig(String),
    /// A request argument breaks a bound the spec declares (a length, a
    /// pattern, a range, an item count); the message names the field and
    /// nothing was sent.
    InvalidArgument(String),
    /// The server answered with a success status but a body (or header) the
    /// SDK could not decode.
    Decode(String),
}

impl Error {
    /// HTTP status of an [`Error::Api`]; `None` for every other variant.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's stable error code (e.g. `not_found`) of an [`Error::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The human-readable message of an [`Error::Api`] (the server's) or an
    /// [`Error::InvalidArgument`] (naming the field the client refused).
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } | Error::InvalidArgument(message) => Some(message),
            _ => None,
        }
    }

    /// The request id the server assigned (`x-request-id`), when it answered.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// 400 or 422, or an [`Error::InvalidArgument`] the client refused before
    /// sending: the request was invalid; the message names the field.
    pub fn is_bad_request(&self) -> bool {
        matches!(self.status(), Some(400 | 422)) || matches!(self, Error::InvalidArgument(_))
    }

    /// 401: the API key is missing, unknown, revoked or expired.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// 403: the key is valid but lacks a scope (or is a project key reaching
    /// outside its project).
    pub fn is_permission_denied(&self) -> bool {
        self.status() == Some(403)
    }

    /// 404: no such object in the caller's organization (another tenant's
    /// objects answer 404 too).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409: a conflict, e.g. rotating an already rotated key, a reused
    /// `key_prefix`, or an `Idempotency-Key` reused with a different body.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 429: the calling key is over its own rate limit.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// 5xx: the server (or a proxy in front of it) failed.
    pub fn is_server_error(&self) -> bool {
        matches!(self.status(), Some(500..=599))
    }

    /// The request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout)
    }

    /// The server could not be reached or the connection broke.
    pub fn is_connection(&self) -> bool {
        matches!(self, Error::Connection(_))
    }

    /// Whether the SDK's retry policy treats this failure as transient
    /// (connection errors, timeouts, 408, 429, 5xx, and a 409 saying the same
    /// idempotency key is still being executed).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout | Error::Connection(_) => true,
            Error::Api { status, code, .. } => is_retryable_status(*status, code),
            Error::InvalidConfig(_) | Error::InvalidArgument(_) | Error::Decode(_) => false,
        }
    }
}

/// Answers worth another attempt: the server may well answer differently.
/// `idempotency_in_progress` means an earlier attempt with the same
/// Idempotency-Key is still running; the retry will get its replayed result.
pub(crate) fn is_retryable_status(status: u16, code: &str) -> bool {
    status == 408
        || status == 429
        || (500..=599).contains(&status)
        || (status == 409 && code == "idempotency_in_progress")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api { status, code, message, request_id } => {
                write!(f, "{status} {code}: {message}")?;
                if let Some(request_id) = request_id {
                    write!(f, " (request_id {request_id})")?;
                }
                Ok(())
            }
            Error::Timeout => f.write_str("request to keyward timed out"),
            Error::Connection(detail) => write!(f, "could not reach keyward: {detail}"),
            Error::InvalidConfig(detail) => write!(f, "invalid keyward client configuration or argument: {detail}"),
            Error::InvalidArgument(detail) => write!(f, "invalid argument: {detail}"),
            Error::Decode(detail) => write!(f, "could not decode keyward's response: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            status,
            code: "not_found".into(),
            message: "api key not found".into(),
            request_id: Some("req_1".into()),
        }
    }

    #[test]
    fn display_names_status_code_message_and_request_id() {
        assert_eq!(api(404).to_string(), "404 not_found: api key not found (request_id req_1)");
    }

    #[test]
    fn helpers_classify_by_status() {
        assert!(api(404).is_not_found());
        assert!(!api(404).is_retryable());
        assert!(api(409).is_conflict());
        assert!(api(429).is_rate_limited() && api(429).is_retryable());
        assert!(api(503).is_server_error() && api(503).is_retryable());
        assert!(api(422).is_bad_request());
        assert_eq!(api(401).code(), Some("not_found"));
        assert_eq!(Error::Timeout.status(), None);
        assert!(Error::Timeout.is_retryable());
    }
}
