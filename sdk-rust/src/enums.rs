//! Enum values across versions. Every string enum of [`crate::types`] has an
//! `Unknown(String)` variant (`cargo xtask codegen` adds it): a response from
//! a server newer than this SDK — a new verify code, a new event type —
//! still decodes, with the value kept as received. What a caller sends is
//! checked instead: decoded with [`from_caller_value`] (the Python and Node
//! bindings decode their arguments so), an unknown value is serde's "unknown
//! variant" error naming the field, and nothing is sent.

use serde::de::{DeserializeOwned, Error};
use std::cell::Cell;

thread_local! {
    /// Set while [`from_caller_value`] decodes: unknown values are refused.
    static STRICT: Cell<bool> = const { Cell::new(false) };
}

/// Decodes `value` as a caller's request: an enum value this SDK does not know is an error.
pub fn from_caller_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    /// Restores the previous mode, also when decoding panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STRICT.set(self.0);
        }
    }
    let _restore = Restore(STRICT.replace(true));
    serde_json::from_value(value)
}

/// Called by the generated `Deserialize` of an enum for a value none of its
/// variants names: kept (as `Unknown`) when decoding a response, refused when
/// decoding what a caller sends.
#[doc(hidden)]
pub fn unknown_value<E: Error>(value: String, known: &'static [&'static str]) -> Result<String, E> {
    if STRICT.get() {
        return Err(E::unknown_variant(&value, known));
    }
    Ok(value)
}
