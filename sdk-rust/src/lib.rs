//! Typed async Rust client for [keyward](https://github.com/keyward), the
//! self-hostable API-key service.
//!
//! [`Client`] is the entry point: build it with [`Client::new`],
//! [`Client::from_env`] or [`Client::builder`], then reach each resource
//! through it — [`Client::api_keys`], [`Client::projects`], [`Client::keys`]
//! (verification) and one handle per tag of the spec. Calls retry transient
//! failures, lists stream every page, errors are one typed [`Error`], and
//! plaintext keys and webhook secrets come wrapped in [`Secret`] so they
//! never end up in logs.
//!
//! The request and response types in [`types`] are generated from the
//! server's OpenAPI document (`cargo xtask codegen`), so they always match the
//! server this crate was built against. So are the resource handles: every
//! operation of the spec is one method, listed with its arguments, their
//! constraints and its result in the generated reference,
//! `docs/reference/rust.md` in the repository.
//!
//! With the `axum` feature, `middleware::RequireKey` guards your own axum or
//! tower service by verifying the key each request presents.
//!
//! [`webhooks`] verifies the webhooks keyward sends you (Standard Webhooks
//! signatures: `webhooks::verify(body, &headers, secret)`); it needs no
//! client and makes no request.
#![warn(missing_docs)]

mod check;
mod checks;
mod client;
mod dispatch_args;
mod error;
mod extra;
#[doc(hidden)]
pub mod nullable;
mod pagination;
mod resources;
mod retry;
mod secret;
mod transport;

/// The operation table the Python and Node bindings call through
/// (`cargo xtask codegen`; never edited by hand).
pub mod dispatch;

#[cfg(feature = "axum")]
pub mod middleware;

pub mod webhooks;

/// Progenitor output for the keyward OpenAPI document (`cargo xtask codegen`;
/// never edited by hand). Use the facade ([`Client`]) instead; its
/// [`types`](generated::types) are re-exported as [`crate::types`].
#[allow(unused_imports, clippy::all)]
pub mod generated;

pub use client::{
    API_KEY_ENV, BASE_URL_ENV, Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT, ORGANIZATION_ID_ENV, ORGANIZATION_ID_HEADER, RequestOptions,
};
pub mod enums;
pub use dispatch_args::DispatchError;
pub use error::Error;
pub use extra::key_hash;
pub use generated::types;
pub use pagination::Page;
pub use resources::*;
pub use secret::Secret;
pub use uuid::Uuid;

#[cfg(test)]
mod tests {
    use crate::types::{VerifyCode, VerifyKeyResponse, WebhookEventType};
    use serde_json::json;

    /// A server newer than this SDK may answer with a verify code or an event
    /// type the SDK has never seen: the response still decodes, the value is
    /// kept as received and prints and re-encodes unchanged (the Python and
    /// Node SDKs receive it through this decoding too).
    #[test]
    fn enum_values_of_a_newer_server_decode_as_unknown() {
        let verdict: VerifyKeyResponse =
            serde_json::from_value(json!({"valid": false, "code": "QUANTUM_LOCKED"})).expect("decodes");
        assert_eq!(verdict.code, VerifyCode::Unknown("QUANTUM_LOCKED".into()));
        assert_eq!(verdict.code.to_string(), "QUANTUM_LOCKED");
        assert_eq!(serde_json::to_value(&verdict.code).expect("encodes"), json!("QUANTUM_LOCKED"));

        let known: VerifyCode = serde_json::from_value(json!("REVOKED")).expect("decodes");
        assert_eq!(known, VerifyCode::Revoked, "known values keep their variants");
        let event: WebhookEventType = serde_json::from_value(json!("api_key.teleported")).expect("decodes");
        assert_eq!(event, WebhookEventType::Unknown("api_key.teleported".into()));
        assert!("QUANTUM_LOCKED".parse::<VerifyCode>().is_err(), "what a caller sends stays checked");
        let refused = crate::enums::from_caller_value::<WebhookEventType>(json!("api_key.teleported"))
            .expect_err("a caller's unknown value is refused");
        assert!(refused.to_string().starts_with("unknown variant `api_key.teleported`, expected one of"), "{refused}");
        let sent: WebhookEventType = crate::enums::from_caller_value(json!("api_key.revoked")).expect("known");
        assert_eq!(sent, WebhookEventType::ApiKeyRevoked);
    }
}
