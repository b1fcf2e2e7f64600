//! Hand-written additions to the generated resource handles
//! (`resources.rs`): compound calls and helpers that are not one operation
//! of the spec. Everything that *is* one operation is generated.

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::generated::types;
use crate::resources::Keys;

/// The `key_hash` of a key to import with
/// [`ApiKeys::import`](crate::ApiKeys::import): the SHA-256 of the key's full
/// text, as 64 lower-case hex characters (what the server stores and what a
/// hand-rolled key table usually holds already).
///
/// ```
/// assert_eq!(
///     keyward::key_hash("test"),
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
/// );
/// ```
pub fn key_hash(key: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(key.as_bytes()).iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

impl Keys {
    /// Verifies `key` with no scope or IP requirement, spending the default
    /// cost of 1: [`Keys::verify`] with only the key set.
    pub async fn verify_key(&self, key: &str) -> Result<types::VerifyKeyResponse, Error> {
        self.verify(types::VerifyKeyRequest { key: key.to_string(), cost: None, ip: None, required_scopes: None }).await
    }
}
