//! Verify the webhooks keyward sends (and sign your own), per
//! [Standard Webhooks](https://www.standardwebhooks.com).
//!
//! Every delivery carries three headers:
//!
//! | header | content |
//! |---|---|
//! | `webhook-id` | the message id, e.g. `msg_2b…`; the same on every retry of one event |
//! | `webhook-timestamp` | when it was signed, in integer Unix seconds |
//! | `webhook-signature` | space-separated `v1,<base64 HMAC-SHA256>` entries (several while a secret is being rotated) |
//!
//! The signature is HMAC-SHA256 over `"{webhook-id}.{webhook-timestamp}.{body}"`
//! keyed with the endpoint's secret: `whsec_` followed by the base64 of the key
//! bytes (a secret without the `whsec_` prefix is accepted too). [`verify`]
//! checks the timestamp is within 5 minutes of the local clock (either way,
//! see [`DEFAULT_TOLERANCE`]), that one `v1` signature matches (compared in
//! constant time; other versions such as `v1a` are ignored), and returns the
//! body parsed as JSON. Pass it the body exactly as received, before any JSON
//! parsing: re-serializing changes the bytes and the signature no longer
//! matches.
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use keyward::webhooks::{self, Webhook, WebhookError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // from the endpoint's settings
//! let body = br#"{"type":"api_key.created","data":{"id":"01900000-0000-7000-8000-000000000000"}}"#;
//!
//! // What the sender does (`sign` is also handy in your own tests):
//! let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
//! let signature = Webhook::new(secret)?.sign("msg_1", now, body);
//! let timestamp = now.to_string();
//! // Headers as `(name, value)` pairs (names in any case), or an `http::HeaderMap`.
//! let headers = [("Webhook-Id", "msg_1"), ("Webhook-Timestamp", timestamp.as_str()), ("Webhook-Signature", signature.as_str())];
//!
//! let event = webhooks::verify(body, &headers, secret)?;
//! assert_eq!(event["type"], "api_key.created");
//!
//! // A body changed in transit (or a wrong secret) fails.
//! let forged = br#"{"type":"api_key.created","data":{"id":"someone else's"}}"#;
//! assert_eq!(webhooks::verify(forged, &headers, secret), Err(WebhookError::NoMatchingSignature));
//! # Ok(())
//! # }
//! ```
//!
//! In an axum handler, take the body as bytes and the [`http::HeaderMap`],
//! and build the [`Webhook`] once:
//!
//! ```
//! use axum::{body::Bytes, http::{HeaderMap, StatusCode}};
//! use keyward::webhooks::Webhook;
//!
//! async fn keyward_events(webhook: &Webhook, headers: HeaderMap, body: Bytes) -> StatusCode {
//!     match webhook.verify(&body, &headers) {
//!         Ok(event) => {
//!             // Deduplicate on headers["webhook-id"]: a delivery can be retried.
//!             println!("{}", event["type"]);
//!             StatusCode::NO_CONTENT
//!         }
//!         Err(error) => {
//!             eprintln!("rejected webhook: {error}"); // never prints the secret
//!             StatusCode::BAD_REQUEST
//!         }
//!     }
//! }
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The message id header: `webhook-id`.
pub const ID_HEADER: &str = "webhook-id";
/// The signing time header (integer Unix seconds): `webhook-timestamp`.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signatures header (`v1,<base64> v1,<base64> …`): `webhook-signature`.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// The prefix of a webhook secret: `whsec_`.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far `webhook-timestamp` may be from the local clock, into the past or
/// the future, by default: 5 minutes (the Standard Webhooks recommendation).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The only signature version this module signs and accepts.
const SIGNATURE_VERSION: &str = "v1";

/// Secrets are decoded with or without their `=` padding.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a webhook was rejected (or a secret refused). `Display` names the
/// problem, never the secret or a signature.
///
/// Treat every variant but [`InvalidSecret`](WebhookError::InvalidSecret)
/// (your configuration) as "not from keyward, or not now": answer 400 and
/// drop the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// A required header is absent or empty; the field is its lower-case
    /// name ([`ID_HEADER`], [`TIMESTAMP_HEADER`] or [`SIGNATURE_HEADER`]).
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer number of seconds.
    InvalidTimestamp,
    /// `webhook-timestamp` is further in the past than the tolerance: a
    /// replay, or a delivery held up somewhere.
    TimestampTooOld,
    /// `webhook-timestamp` is further in the future than the tolerance (check
    /// this machine's clock).
    TimestampTooNew,
    /// No `v1` signature in `webhook-signature` matches the body with this
    /// secret: the body or headers were altered, or the secret is not this
    /// endpoint's.
    NoMatchingSignature,
    /// The secret is not `whsec_` + base64 (or is empty). Nothing was verified.
    InvalidSecret,
    /// The signature is valid but the body is not JSON; the field is the
    /// parser's message.
    InvalidPayload(String),
}

impl WebhookError {
    /// A stable snake_case identifier of the variant, the same in every keyward
    /// SDK: `missing_header`, `invalid_timestamp`, `timestamp_too_old`,
    /// `timestamp_too_new`, `no_matching_signature`, `invalid_secret`,
    /// `invalid_payload`.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader(_) => "missing_header",
            WebhookError::InvalidTimestamp => "invalid_timestamp",
            WebhookError::TimestampTooOld => "timestamp_too_old",
            WebhookError::TimestampTooNew => "timestamp_too_new",
            WebhookError::NoMatchingSignature => "no_matching_signature",
            WebhookError::InvalidSecret => "invalid_secret",
            WebhookError::InvalidPayload(_) => "invalid_payload",
        }
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::MissingHeader(name) => write!(f, "missing webhook header `{name}`"),
            WebhookError::InvalidTimestamp => write!(f, "`{TIMESTAMP_HEADER}` is not an integer Unix time"),
            WebhookError::TimestampTooOld => write!(f, "webhook timestamp is too old (outside the tolerance)"),
            WebhookError::TimestampTooNew => {
                write!(f, "webhook timestamp is too far in the future (outside the tolerance)")
            }
            WebhookError::NoMatchingSignature => write!(f, "no matching webhook signature"),
            WebhookError::InvalidSecret => {
                write!(f, "invalid webhook secret: expected `{SECRET_PREFIX}` followed by base64")
            }
            WebhookError::InvalidPayload(message) => write!(f, "webhook payload is not JSON: {message}"),
        }
    }
}

impl std::error::Error for WebhookError {}

/// Request headers [`verify`] can read: an [`http::HeaderMap`] (what axum,
/// hyper and reqwest use), or `(name, value)` pairs — slices, arrays and
/// `Vec`s of string pairs — and `HashMap`/`BTreeMap`s of strings.
///
/// Names match case-insensitively. When a header occurs more than once its
/// values are joined with a space (so several `webhook-signature` headers act
/// as one list; a list some framework already joined with `", "` works too).
pub trait Headers {
    /// The value of header `name` (given in lower case), if present.
    fn header(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl<T: Headers + ?Sized> Headers for &T {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        (**self).header(name)
    }
}

impl Headers for http::HeaderMap {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        // Bytes that are not UTF-8 are replaced, so such a value cannot match.
        join(self.get_all(name).iter().map(|value| String::from_utf8_lossy(value.as_bytes())))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        join(
            self.iter()
                .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
                .map(|(_, value)| Cow::Borrowed(value.as_ref())),
        )
    }
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        self.as_slice().header(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>, S: BuildHasher> Headers for HashMap<K, V, S> {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        join(
            self.iter()
                .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
                .map(|(_, value)| Cow::Borrowed(value.as_ref())),
        )
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for BTreeMap<K, V> {
    fn header(&self, name: &str) -> Option<Cow<'_, str>> {
        join(
            self.iter()
                .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
                .map(|(_, value)| Cow::Borrowed(value.as_ref())),
        )
    }
}

/// One value as is, several joined by a space, none as `None`.
fn join<'a>(mut values: impl Iterator<Item = Cow<'a, str>>) -> Option<Cow<'a, str>> {
    let first = values.next()?;
    match values.next() {
        None => Some(first),
        Some(second) => {
            let mut joined = first.into_owned();
            for value in std::iter::once(second).chain(values) {
                joined.push(' ');
                joined.push_str(&value);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// Verifies one webhook with `secret` and the default tolerance
/// ([`DEFAULT_TOLERANCE`]) and returns its body parsed as JSON.
///
/// `payload` is the raw request body. Shorthand for
/// `Webhook::new(secret)?.verify(payload, headers)`; build a [`Webhook`] once
/// instead when you verify many (it decodes the secret once). See the
/// [module docs](self) for an example.
///
/// # Errors
///
/// [`WebhookError::InvalidSecret`] for a malformed secret; otherwise the
/// reason the message was rejected (see [`Webhook::verify`]).
pub fn verify<H: Headers + ?Sized>(payload: &[u8], headers: &H, secret: &str) -> Result<Value, WebhookError> {
    Webhook::new(secret)?.verify(payload, headers)
}

/// A webhook endpoint's secret and timestamp tolerance: verifies (and signs)
/// messages. Cheap to clone; build it once.
///
/// `Debug` does not print the key.
#[derive(Clone)]
pub struct Webhook {
    key: Vec<u8>,
    tolerance: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook").field("key", &"<redacted>").field("tolerance", &self.tolerance).finish()
    }
}

impl Webhook {
    /// A verifier for `secret`: `whsec_` followed by the base64 of the key
    /// bytes, as shown in the endpoint's settings (the bare base64, without
    /// `whsec_`, is accepted too). The tolerance is [`DEFAULT_TOLERANCE`].
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] when what follows the prefix is not
    /// base64 or decodes to nothing.
    pub fn new(secret: &str) -> Result<Webhook, WebhookError> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let key = SECRET_BASE64.decode(encoded.trim()).map_err(|_| WebhookError::InvalidSecret)?;
        Webhook::from_bytes(key)
    }

    /// A verifier keyed with the raw key bytes (the secret already decoded).
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidSecret`] when `key` is empty.
    pub fn from_bytes(key: impl Into<Vec<u8>>) -> Result<Webhook, WebhookError> {
        let key = key.into();
        if key.is_empty() {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(Webhook { key, tolerance: DEFAULT_TOLERANCE })
    }

    /// How far `webhook-timestamp` may be from the local clock, into the past
    /// or the future (whole seconds; default [`DEFAULT_TOLERANCE`]).
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Webhook {
        self.tolerance = tolerance;
        self
    }

    /// The timestamp tolerance in use.
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Verifies one message and returns its body parsed as JSON.
    ///
    /// In order: the three headers must be present and non-empty, the
    /// timestamp an integer within the tolerance of now, one `v1` entry of
    /// `webhook-signature` must match (constant-time comparison; other
    /// versions are skipped), and the body must be JSON.
    ///
    /// # Errors
    ///
    /// [`WebhookError::MissingHeader`], [`WebhookError::InvalidTimestamp`],
    /// [`WebhookError::TimestampTooOld`], [`WebhookError::TimestampTooNew`],
    /// [`WebhookError::NoMatchingSignature`] or [`WebhookError::InvalidPayload`].
    pub fn verify<H: Headers + ?Sized>(&self, payload: &[u8], headers: &H) -> Result<Value, WebhookError> {
        self.verify_at(payload, headers, SystemTime::now())
    }

    /// [`verify`](Webhook::verify) as if the clock read `now`: for tests, and
    /// for re-checking a stored delivery later.
    ///
    /// # Errors
    ///
    /// As [`verify`](Webhook::verify).
    pub fn verify_at<H: Headers + ?Sized>(
        &self,
        payload: &[u8],
        headers: &H,
        now: SystemTime,
    ) -> Result<Value, WebhookError> {
        self.verify_signature_at(payload, headers, now)?;
        serde_json::from_slice(payload).map_err(|error| WebhookError::InvalidPayload(error.to_string()))
    }

    /// Checks headers, timestamp and signature as [`verify`](Webhook::verify)
    /// does, without parsing the body (for a body you parse yourself, or one
    /// that is not JSON).
    ///
    /// # Errors
    ///
    /// As [`verify`](Webhook::verify), except [`WebhookError::InvalidPayload`].
    pub fn verify_signature<H: Headers + ?Sized>(&self, payload: &[u8], headers: &H) -> Result<(), WebhookError> {
        self.verify_signature_at(payload, headers, SystemTime::now())
    }

    /// [`verify_signature`](Webhook::verify_signature) as if the clock read `now`.
    ///
    /// # Errors
    ///
    /// As [`verify`](Webhook::verify), except [`WebhookError::InvalidPayload`].
    pub fn verify_signature_at<H: Headers + ?Sized>(
        &self,
        payload: &[u8],
        headers: &H,
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        let msg_id = required(headers, ID_HEADER)?;
        let timestamp = required(headers, TIMESTAMP_HEADER)?;
        let signatures = required(headers, SIGNATURE_HEADER)?;

        let timestamp: i64 = timestamp.trim().parse().map_err(|_| WebhookError::InvalidTimestamp)?;
        let now = unix_seconds(now);
        let tolerance = i128::from(self.tolerance.as_secs());
        if now - i128::from(timestamp) > tolerance {
            return Err(WebhookError::TimestampTooOld);
        }
        if i128::from(timestamp) - now > tolerance {
            return Err(WebhookError::TimestampTooNew);
        }

        let mac = self.mac(&msg_id, timestamp, payload);
        let matched = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == SIGNATURE_VERSION)
            // A trailing comma is what joining repeated headers with ", " (fetch's
            // `Headers`, Node's http) leaves behind; base64 never contains one.
            .filter_map(|(_, signature)| STANDARD.decode(signature.trim_end_matches(',')).ok())
            // `verify_slice` compares in constant time.
            .any(|signature| mac.clone().verify_slice(&signature).is_ok());
        if matched { Ok(()) } else { Err(WebhookError::NoMatchingSignature) }
    }

    /// The `webhook-signature` value for a message: `v1,<base64 HMAC-SHA256>`
    /// of `"{msg_id}.{timestamp}.{payload}"`. For tests, and for relaying
    /// events to your own receivers with this secret.
    ///
    /// ```
    /// let webhook = keyward::webhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    /// let signature = webhook.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
    /// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /// # Ok::<(), keyward::webhooks::WebhookError>(())
    /// ```
    pub fn sign(&self, msg_id: &str, timestamp: i64, payload: &[u8]) -> String {
        let tag = self.mac(msg_id, timestamp, payload).finalize().into_bytes();
        format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag))
    }

    /// The HMAC state after `"{msg_id}.{timestamp}.{payload}"`.
    fn mac(&self, msg_id: &str, timestamp: i64, payload: &[u8]) -> HmacSha256 {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac
    }
}

/// Header `name`, trimmed, or `MissingHeader` when absent or blank.
fn required<'h, H: Headers + ?Sized>(headers: &'h H, name: &'static str) -> Result<Cow<'h, str>, WebhookError> {
    match headers.header(name) {
        Some(value) if !value.trim().is_empty() => Ok(match value {
            Cow::Borrowed(value) => Cow::Borrowed(value.trim()),
            Cow::Owned(value) => Cow::Owned(value.trim().to_owned()),
        }),
        _ => Err(WebhookError::MissingHeader(name)),
    }
}

/// Seconds since the Unix epoch (negative before it).
fn unix_seconds(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i128::from(since.as_secs()),
        Err(before) => -i128::from(before.duration().as_secs()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks reference libraries' test vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn at(seconds: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn headers(id: &str, timestamp: i64, signature: &str) -> Vec<(String, String)> {
        vec![
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            ("webhook-signature".into(), signature.into()),
        ]
    }

    fn now() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
    }

    /// HMAC-SHA256 spelled out (RFC 2104) on `sha2::Digest` alone, to check
    /// the vector without trusting the `hmac` crate usage above.
    fn reference_signature(key: &[u8], content: &[u8]) -> String {
        use sha2::Digest;
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new().chain_update(&inner_pad).chain_update(content).finalize();
        let outer = Sha256::new().chain_update(&outer_pad).chain_update(inner).finalize();
        format!("v1,{}", STANDARD.encode(outer))
    }

    #[test]
    fn reference_vector_signs_and_verifies() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let mut content = format!("{MSG_ID}.{TIMESTAMP}.").into_bytes();
        content.extend_from_slice(PAYLOAD);
        assert_eq!(reference_signature(&key, &content), SIGNATURE, "independent HMAC agrees with the vector");

        let webhook = Webhook::new(SECRET).unwrap();
        assert_eq!(webhook.sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
        let event = webhook.verify_at(PAYLOAD, &headers(MSG_ID, TIMESTAMP, SIGNATURE), at(TIMESTAMP)).unwrap();
        assert_eq!(event, serde_json::json!({"test": 2432232314u64}));
        // The vector is from 2021: with the real clock it is far too old.
        assert_eq!(webhook.verify(PAYLOAD, &headers(MSG_ID, TIMESTAMP, SIGNATURE)), Err(WebhookError::TimestampTooOld));
    }

    #[test]
    fn secret_without_prefix_is_the_same_key() {
        let bare = Webhook::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(bare.sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
        let raw = Webhook::from_bytes(STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()).unwrap();
        assert_eq!(raw.sign(MSG_ID, TIMESTAMP, PAYLOAD), SIGNATURE);
    }

    #[test]
    fn free_function_verifies_with_the_real_clock() {
        let ts = now();
        let signature = Webhook::new(SECRET).unwrap().sign("msg_1", ts, PAYLOAD);
        let event = verify(PAYLOAD, &headers("msg_1", ts, &signature), SECRET).unwrap();
        assert_eq!(event["test"], 2432232314u64);
    }

    #[test]
    fn tolerance_applies_both_ways() {
        let webhook = Webhook::new(SECRET).unwrap();
        let ts = 1_700_000_000;
        let signed = headers("msg_1", ts, &webhook.sign("msg_1", ts, PAYLOAD));
        // Exactly 300 s either way is accepted; 301 s is not.
        assert!(webhook.verify_at(PAYLOAD, &signed, at(ts + 300)).is_ok());
        assert!(webhook.verify_at(PAYLOAD, &signed, at(ts - 300)).is_ok());
        assert_eq!(webhook.verify_at(PAYLOAD, &signed, at(ts + 301)), Err(WebhookError::TimestampTooOld));
        assert_eq!(webhook.verify_at(PAYLOAD, &signed, at(ts - 301)), Err(WebhookError::TimestampTooNew));

        let strict = webhook.clone().with_tolerance(Duration::from_secs(10));
        assert_eq!(strict.tolerance(), Duration::from_secs(10));
        assert!(strict.verify_at(PAYLOAD, &signed, at(ts + 10)).is_ok());
        assert_eq!(strict.verify_at(PAYLOAD, &signed, at(ts + 11)), Err(WebhookError::TimestampTooOld));
        assert_eq!(strict.verify_at(PAYLOAD, &signed, at(ts - 11)), Err(WebhookError::TimestampTooNew));

        // Against the real clock too.
        let old = now() - 301;
        let stale = headers("msg_1", old, &webhook.sign("msg_1", old, PAYLOAD));
        assert_eq!(webhook.verify(PAYLOAD, &stale), Err(WebhookError::TimestampTooOld));
        let future = now() + 400;
        let early = headers("msg_1", future, &webhook.sign("msg_1", future, PAYLOAD));
        assert_eq!(webhook.verify(PAYLOAD, &early), Err(WebhookError::TimestampTooNew));
    }

    #[test]
    fn tampered_body_id_or_timestamp_is_rejected() {
        let webhook = Webhook::new(SECRET).unwrap();
        let good = headers(MSG_ID, TIMESTAMP, SIGNATURE);
        let tampered = br#"{"test": 2432232315}"#;
        assert_eq!(webhook.verify_at(tampered, &good, at(TIMESTAMP)), Err(WebhookError::NoMatchingSignature));
        let other_id = headers("msg_other", TIMESTAMP, SIGNATURE);
        assert_eq!(webhook.verify_at(PAYLOAD, &other_id, at(TIMESTAMP)), Err(WebhookError::NoMatchingSignature));
        let other_ts = headers(MSG_ID, TIMESTAMP + 1, SIGNATURE);
        assert_eq!(webhook.verify_at(PAYLOAD, &other_ts, at(TIMESTAMP)), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let other = Webhook::new("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let good = headers(MSG_ID, TIMESTAMP, SIGNATURE);
        assert_eq!(other.verify_at(PAYLOAD, &good, at(TIMESTAMP)), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn one_valid_signature_among_several_is_enough() {
        let webhook = Webhook::new(SECRET).unwrap();
        let wrong = "v1,Ks1KS1ZyaXvSVEtlPKFFYiwzmOX/ZGZ6pf0zMKv5XLE=";
        let list = format!("{wrong} v1,not*base64 garbage {SIGNATURE} v2,AAAA");
        assert!(webhook.verify_at(PAYLOAD, &headers(MSG_ID, TIMESTAMP, &list), at(TIMESTAMP)).is_ok());
        let only_wrong = format!("{wrong} v1,not*base64");
        assert_eq!(
            webhook.verify_at(PAYLOAD, &headers(MSG_ID, TIMESTAMP, &only_wrong), at(TIMESTAMP)),
            Err(WebhookError::NoMatchingSignature)
        );
        // A repeated header counts as one list, also when a framework joined it with ", ".
        let mut repeated = headers(MSG_ID, TIMESTAMP, wrong);
        repeated.push(("webhook-signature".into(), SIGNATURE.into()));
        assert!(webhook.verify_at(PAYLOAD, &repeated, at(TIMESTAMP)).is_ok());
        let comma_joined = format!("{SIGNATURE}, {wrong}");
        assert!(webhook.verify_at(PAYLOAD, &headers(MSG_ID, TIMESTAMP, &comma_joined), at(TIMESTAMP)).is_ok());
    }

    #[test]
    fn other_signature_versions_are_ignored() {
        let webhook = Webhook::new(SECRET).unwrap();
        // The right MAC under another version tag does not count.
        let v1a = SIGNATURE.replacen("v1,", "v1a,", 1);
        assert_eq!(
            webhook.verify_at(PAYLOAD, &headers(MSG_ID, TIMESTAMP, &v1a), at(TIMESTAMP)),
            Err(WebhookError::NoMatchingSignature)
        );
        let both = format!("{v1a} {SIGNATURE}");
        assert!(webhook.verify_at(PAYLOAD, &headers(MSG_ID, TIMESTAMP, &both), at(TIMESTAMP)).is_ok());
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let webhook = Webhook::new(SECRET).unwrap();
        let ts = TIMESTAMP.to_string();
        let pairs = [("Webhook-Id", MSG_ID), ("WEBHOOK-TIMESTAMP", ts.as_str()), ("Webhook-Signature", SIGNATURE)];
        assert!(webhook.verify_at(PAYLOAD, &pairs, at(TIMESTAMP)).is_ok());
        assert!(webhook.verify_at(PAYLOAD, pairs.as_slice(), at(TIMESTAMP)).is_ok());

        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        assert!(webhook.verify_at(PAYLOAD, &map, at(TIMESTAMP)).is_ok());
        let tree: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert!(webhook.verify_at(PAYLOAD, &tree, at(TIMESTAMP)).is_ok());

        let mut header_map = http::HeaderMap::new();
        header_map.insert("Webhook-ID", MSG_ID.parse().unwrap());
        header_map.insert("webhook-timestamp", ts.parse().unwrap());
        header_map.insert("WEBHOOK-SIGNATURE", SIGNATURE.parse().unwrap());
        assert!(webhook.verify_at(PAYLOAD, &header_map, at(TIMESTAMP)).is_ok());
        header_map.append("webhook-signature", "v1,AAAA".parse().unwrap());
        assert!(webhook.verify_at(PAYLOAD, &header_map, at(TIMESTAMP)).is_ok());
        header_map.remove("webhook-signature");
        header_map.insert("webhook-signature", "v1,AAAA".parse().unwrap());
        assert_eq!(webhook.verify_at(PAYLOAD, &header_map, at(TIMESTAMP)), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn missing_and_malformed_headers() {
        let webhook = Webhook::new(SECRET).unwrap();
        let full = headers(MSG_ID, TIMESTAMP, SIGNATURE);
        for (index, name) in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER].into_iter().enumerate() {
            let mut without = full.clone();
            without.remove(index);
            assert_eq!(webhook.verify_at(PAYLOAD, &without, at(TIMESTAMP)), Err(WebhookError::MissingHeader(name)));
            let mut blank = full.clone();
            blank[index].1 = "  ".into();
            assert_eq!(webhook.verify_at(PAYLOAD, &blank, at(TIMESTAMP)), Err(WebhookError::MissingHeader(name)));
        }
        for bad in ["soon", "1614265330.5", "0x10", "99999999999999999999"] {
            let mut malformed = full.clone();
            malformed[1].1 = bad.into();
            assert_eq!(
                webhook.verify_at(PAYLOAD, &malformed, at(TIMESTAMP)),
                Err(WebhookError::InvalidTimestamp),
                "{bad}"
            );
        }
    }

    #[test]
    fn valid_signature_over_non_json_is_invalid_payload() {
        let webhook = Webhook::new(SECRET).unwrap();
        let body = b"not json";
        let signed = headers("msg_1", TIMESTAMP, &webhook.sign("msg_1", TIMESTAMP, body));
        let error = webhook.verify_at(body, &signed, at(TIMESTAMP)).unwrap_err();
        assert!(matches!(error, WebhookError::InvalidPayload(_)), "{error:?}");
        assert_eq!(error.code(), "invalid_payload");
        assert!(webhook.verify_signature_at(body, &signed, at(TIMESTAMP)).is_ok());
        let fresh = now();
        let signed_now = headers("msg_1", fresh, &webhook.sign("msg_1", fresh, body));
        assert!(webhook.verify_signature(body, &signed_now).is_ok());
        assert_eq!(webhook.verify_signature(b"not jsoN", &signed_now), Err(WebhookError::NoMatchingSignature));
    }

    #[test]
    fn invalid_secrets_are_refused_without_echoing_them() {
        for secret in ["", "whsec_", "whsec_not*base64!", "whsec_a"] {
            let error = Webhook::new(secret).unwrap_err();
            assert_eq!(error, WebhookError::InvalidSecret, "{secret:?}");
            assert_eq!(error.code(), "invalid_secret");
        }
        assert_eq!(Webhook::from_bytes(Vec::new()).unwrap_err(), WebhookError::InvalidSecret);
        let leaky = "whsec_Zm9v!secret-material";
        assert_eq!(verify(PAYLOAD, &headers(MSG_ID, TIMESTAMP, SIGNATURE), leaky), Err(WebhookError::InvalidSecret));
        assert!(!WebhookError::InvalidSecret.to_string().contains("secret-material"));
        // Debug of a verifier shows no key material either.
        let debug = format!("{:?}", Webhook::new(SECRET).unwrap());
        assert!(!debug.contains("MfKQ9r8"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }

    #[test]
    fn error_messages_and_codes() {
        let cases = [
            (WebhookError::MissingHeader(ID_HEADER), "missing_header", "missing webhook header `webhook-id`"),
            (WebhookError::InvalidTimestamp, "invalid_timestamp", "`webhook-timestamp` is not an integer Unix time"),
            (
                WebhookError::TimestampTooOld,
                "timestamp_too_old",
                "webhook timestamp is too old (outside the tolerance)",
            ),
            (WebhookError::NoMatchingSignature, "no_matching_signature", "no matching webhook signature"),
        ];
        for (error, code, message) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.to_string(), message);
        }
        assert_eq!(WebhookError::TimestampTooNew.code(), "timestamp_too_new");
    }
}
