//! A plaintext secret (an API key or a webhook signing secret) that never
//! prints itself.

use std::fmt;

/// A plaintext secret shown once by the server: an API key (create,
/// regenerate, rotate) or a webhook signing secret (`whsec_…`, from webhook
/// endpoint create and rotate-secret, and the organization's signing secret).
///
/// `Debug` and `Display` print only the public part followed by `…`, so a
/// secret that ends up in a log line or a panic message is not leaked: for an
/// API key its prefix (`{prefix}_{env}_` plus the first 4 secret characters,
/// the same text the server stores as `key_prefix`), for a webhook secret
/// just `whsec_`. Call [`Secret::expose`] to read the secret itself, e.g. to
/// hand a key to your customer or to verify a webhook.
///
/// ```
/// let key = keyward::Secret::new("kw_live_abc1DEF2ghi3JKL4mno5PQR6stu7VWX8yz9A0b1c2d");
/// assert_eq!(format!("{key}"), "kw_live_abc1…");
/// assert_eq!(format!("{key:?}"), "Secret(\"kw_live_abc1…\")");
/// assert!(key.expose().starts_with("kw_live_abc1DEF2"));
///
/// let webhook_secret = keyward::Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
/// assert_eq!(format!("{webhook_secret:?}"), "Secret(\"whsec_…\")");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Secret characters shown after `{prefix}_{env}_`, matching the server's `key_prefix`.
const VISIBLE_SECRET_CHARS: usize = 4;

/// The prefix of a webhook signing secret; everything after it is key material.
const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

impl Secret {
    /// Wraps a plaintext key.
    pub fn new(key: impl Into<String>) -> Secret {
        Secret(key.into())
    }

    /// The plaintext. Store it (or show it to its owner) now: the server
    /// never returns it again.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper and returns the plaintext.
    pub fn into_exposed(self) -> String {
        self.0
    }

    /// The printable part: `{prefix}_{env}_` and 4 more characters, e.g.
    /// `kw_live_abc1`; for a webhook secret only `whsec_`. A string in
    /// neither format shows nothing, since no part of it is known to be public.
    pub fn masked_prefix(&self) -> &str {
        if self.0.starts_with(WEBHOOK_SECRET_PREFIX) {
            return WEBHOOK_SECRET_PREFIX;
        }
        let mut underscores = 0;
        for (index, character) in self.0.char_indices() {
            if character == '_' {
                underscores += 1;
                if underscores == 2 {
                    let secret_start = index + 1;
                    let visible_end = self.0[secret_start..]
                        .char_indices()
                        .nth(VISIBLE_SECRET_CHARS)
                        .map(|(offset, _)| secret_start + offset);
                    // A key shorter than that is not a real key: show no secret characters.
                    return match visible_end {
                        Some(end) => &self.0[..end],
                        None => &self.0[..secret_start],
                    };
                }
            }
        }
        ""
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.masked_prefix())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(\"{}…\")", self.masked_prefix())
    }
}

/// Serializes the plaintext: a response that carries a secret is encoded so
/// only to hand it over (the Python and Node bindings wrap it again). Logging
/// goes through `Debug`/`Display`, which mask it.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

impl From<String> for Secret {
    fn from(key: String) -> Secret {
        Secret(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_prefix_environment_and_four_secret_chars() {
        let key = Secret::new("kros_test_4f9QkZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(key.to_string(), "kros_test_4f9Q…");
        assert!(!format!("{key:?}").contains("ZZZZ"));
    }

    #[test]
    fn unknown_shapes_show_nothing_secret() {
        assert_eq!(Secret::new("no-underscores-here").to_string(), "…");
        assert_eq!(Secret::new("kw_live_ab").to_string(), "kw_live_…");
        assert_eq!(Secret::new("").to_string(), "…");
        assert_eq!(Secret::new("kw_live_äöüßé").to_string(), "kw_live_äöüß…");
    }

    #[test]
    fn webhook_secrets_show_only_their_prefix() {
        // URL-safe base64 could contain `_`; the key rule must not apply to it.
        let secret = Secret::new("whsec_ab_cdEFGH_ijklMNOPqrstUVWXyz0123456789");
        assert_eq!(secret.to_string(), "whsec_…");
        assert_eq!(format!("{secret:?}"), "Secret(\"whsec_…\")");
        assert_eq!(secret.masked_prefix(), "whsec_");
    }
}
