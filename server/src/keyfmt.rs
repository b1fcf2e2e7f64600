//! The key format (`docs/architecture.md#key-format`): `{prefix}_{env}_{secret}` where `secret` is 32
//! base62 characters from the OS CSPRNG followed by 6 base62 characters of a
//! CRC32 over everything before them (GitHub's token design). The checksum lets
//! verify reject typos and random strings without touching storage, and lets
//! secret scanners recognise our keys.

use rand::{TryRngCore, rngs::OsRng};
use sha2::{Digest, Sha256};
use std::fmt;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const RANDOM_LEN: usize = 32;
pub const CHECKSUM_LEN: usize = 6;
pub const SECRET_LEN: usize = RANDOM_LEN + CHECKSUM_LEN;
/// Characters of the secret kept in the stored, displayable `key_prefix`.
pub const DISPLAY_SECRET_CHARS: usize = 4;

/// A freshly minted key. The plaintext leaves the process exactly once, in the
/// create/regenerate/rotate response; `Debug` never shows it.
pub struct NewKey {
    plaintext: String,
    pub hash: String,
    pub key_prefix: String,
    pub last4: String,
}

impl NewKey {
    pub fn plaintext(&self) -> &str {
        &self.plaintext
    }
    pub fn into_plaintext(self) -> String {
        self.plaintext
    }
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("key_prefix", &self.key_prefix)
            .field("last4", &self.last4)
            .finish_non_exhaustive()
    }
}

/// A presented key that has the right shape and checksum. Borrowed from the
/// request so the hot path allocates nothing before hashing.
#[derive(Clone, Copy)]
pub struct ParsedKey<'a> {
    pub full: &'a str,
    pub prefix: &'a str,
    pub environment: &'a str,
}

impl fmt::Debug for ParsedKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParsedKey({}_{}_…)", self.prefix, self.environment)
    }
}

pub fn is_valid_prefix(prefix: &str) -> bool {
    (2..=8).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub fn is_valid_environment(env: &str) -> bool {
    (1..=16).contains(&env.len()) && env.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn encode_base62_fixed(mut n: u64, width: usize, out: &mut String) {
    let mut buf = vec![b'0'; width];
    for slot in buf.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

fn checksum(body: &str) -> String {
    let mut out = String::with_capacity(CHECKSUM_LEN);
    encode_base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN, &mut out);
    out
}

fn random_base62(len: usize) -> String {
    // Rejection sampling keeps every character uniformly distributed.
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        OsRng.try_fill_bytes(&mut buf).expect("the OS random number generator failed");
        for &b in &buf {
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// Mint a new key for `prefix` and `environment` (both already validated).
pub fn generate(prefix: &str, environment: &str) -> NewKey {
    let mut plaintext = format!("{prefix}_{environment}_{}", random_base62(RANDOM_LEN));
    let sum = checksum(&plaintext);
    plaintext.push_str(&sum);
    let secret_start = prefix.len() + environment.len() + 2;
    NewKey {
        hash: hash_key(&plaintext),
        key_prefix: plaintext[..secret_start + DISPLAY_SECRET_CHARS].to_string(),
        last4: plaintext[plaintext.len() - 4..].to_string(),
        plaintext,
    }
}

/// Check shape and checksum without any I/O.
pub fn parse(presented: &str) -> Option<ParsedKey<'_>> {
    let mut parts = presented.splitn(3, '_');
    let prefix = parts.next()?;
    let environment = parts.next()?;
    let secret = parts.next()?;
    if !is_valid_prefix(prefix)
        || !is_valid_environment(environment)
        || secret.len() != SECRET_LEN
        || !secret.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return None;
    }
    let (body, sum) = presented.split_at(presented.len() - CHECKSUM_LEN);
    (checksum(body) == sum).then_some(ParsedKey { full: presented, prefix, environment })
}

/// Hex SHA-256 of the full key: the only form in which a key is stored.
pub fn hash_key(full: &str) -> String {
    hex::encode(key_digest(full))
}

/// The raw SHA-256 behind [`hash_key`] (what the key cache is keyed by).
pub fn key_digest(full: &str) -> [u8; 32] {
    Sha256::digest(full.as_bytes()).into()
}

/// A short, non-secret rendering of a presented token for logs and errors.
pub fn redact(token: &str) -> String {
    match parse(token) {
        Some(k) => format!("{}_{}_…", k.prefix, k.environment),
        None => "<redacted>".to_string(),
    }
}

/// Could `presented` be a key from another system (an imported key, which
/// may lack our checksum)? 16-512 printable ASCII characters.
pub fn plausible_foreign_key(presented: &str) -> bool {
    (16..=512).contains(&presented.len()) && presented.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_have_the_documented_shape() {
        let key = generate("kros", "live");
        let text = key.plaintext().to_string();
        assert!(text.starts_with("kros_live_"));
        assert_eq!(text.len(), "kros_live_".len() + SECRET_LEN);
        assert_eq!(key.key_prefix.len(), "kros_live_".len() + 4);
        assert!(text.starts_with(&key.key_prefix));
        assert!(text.ends_with(&key.last4));
        assert_eq!(key.hash, hash_key(&text));
        let parsed = parse(&text).expect("a generated key parses");
        assert_eq!((parsed.prefix, parsed.environment), ("kros", "live"));
        assert!(!format!("{key:?}").contains(&text[10..]));
    }

    #[test]
    fn a_single_typo_fails_the_checksum() {
        let text = generate("kw", "test").into_plaintext();
        let mut bytes = text.clone().into_bytes();
        let i = 12;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        assert!(parse(&String::from_utf8(bytes).unwrap()).is_none());
        assert!(parse(&text).is_some());
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        for bad in ["", "kw", "kw_live", "kw_live_", "KW_live_abc", "k_live_x", "kw_li_ve_0123", "kw_live_短"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_unique() {
        let a = generate("kw", "live").into_plaintext();
        let b = generate("kw", "live").into_plaintext();
        assert_ne!(a, b);
    }
}
