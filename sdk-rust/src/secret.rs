//! A plaintext API key that never prints itself.

use std::fmt;

/// A plaintext keyward API key, as returned once by create, regenerate and
/// rotate.
///
/// `Debug` and `Display` print only the key's public prefix
/// (`{prefix}_{env}_` plus the first 4 secret characters, the same text the
/// server stores as `key_prefix`) followed by `…`, so a secret that ends up in
/// a log line or a panic message is not leaked. Call [`Secret::expose`] to
/// read the key itself, e.g. to hand it to your customer.
///
/// ```
/// let key = keyward::Secret::new("kw_live_abc1DEF2ghi3JKL4mno5PQR6stu7VWX8yz9A0b1c2d");
/// assert_eq!(format!("{key}"), "kw_live_abc1…");
/// assert_eq!(format!("{key:?}"), "Secret(\"kw_live_abc1…\")");
/// assert!(key.expose().starts_with("kw_live_abc1DEF2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Secret characters shown after `{prefix}_{env}_`, matching the server's `key_prefix`.
const VISIBLE_SECRET_CHARS: usize = 4;

impl Secret {
    /// Wraps a plaintext key.
    pub fn new(key: impl Into<String>) -> Secret {
        Secret(key.into())
    }

    /// The plaintext key. Store it (or show it to its owner) now: the server
    /// never returns it again.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper and returns the plaintext key.
    pub fn into_exposed(self) -> String {
        self.0
    }

    /// The printable part: `{prefix}_{env}_` and 4 more characters, e.g.
    /// `kw_live_abc1`. A string that is not in keyward's key format shows
    /// nothing, since no part of it is known to be public.
    pub fn masked_prefix(&self) -> &str {
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
}
