//! Secrets at rest: webhook endpoint secrets (`webhook_endpoints.secret`) and
//! the organization signing secret (`organizations.key_webhook_secret`) are
//! stored sealed with XChaCha20-Poly1305 under a key-encryption key (KEK), so a
//! copy of the database alone reveals none of them.
//!
//! A stored value is `enc:v1:<kid>:<b64 nonce>:<b64 ciphertext>`: `kid` is the
//! first 8 hex characters of SHA-256 of the KEK that sealed it (so opening
//! picks the right key among the current and previous ones), the nonce is 24
//! random bytes, and the associated data names the table, column and row, so a
//! ciphertext copied to another row does not open.
//!
//! The KEK is `secrets_key` (`KEYWARD_SECRETS_KEY`, base64 of 32 bytes). Keys in
//! `secrets_key_previous` still open what they sealed; [`startup`] re-seals such
//! rows (and plaintext rows from before this version) under the current key, in
//! bounded batches. Without a configured key, SQLite uses `keyward.key` beside
//! the database file (created, mode 0600, on first start), an in-memory SQLite
//! database an ephemeral key, and Postgres none: it refuses to start if the
//! database holds a secret, and otherwise answers 503 `secrets_key_missing`
//! when asked to create one.

use crate::{config::Config, store::Store};
use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub use crate::config::SecretString as Secret;

/// What every sealed value starts with.
pub const PREFIX: &str = "enc:v1:";
/// The key file a SQLite database without a configured key uses, beside it.
pub const KEY_FILE: &str = "keyward.key";
/// Rows re-sealed per transaction by [`startup`].
const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("KEYWARD_SECRETS_KEY is not set: webhook secrets cannot be stored or read until it is")]
    KeyMissing,
    #[error(
        "a stored secret was sealed under key id {0}, which is neither KEYWARD_SECRETS_KEY nor one of \
         KEYWARD_SECRETS_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    #[error("a stored secret does not open (damaged, or copied from another row)")]
    Corrupt,
}

/// One key-encryption key; `Debug` shows only its id.
struct Kek {
    kid: String,
    cipher: XChaCha20Poly1305,
}

impl Kek {
    fn new(key: &[u8; 32]) -> Kek {
        Kek { kid: key_id(key), cipher: XChaCha20Poly1305::new(key.into()) }
    }
}

/// The current KEK (if any) and the previous ones that still open old rows.
pub struct SecretsKeyring {
    current: Option<Kek>,
    previous: Vec<Kek>,
}

impl std::fmt::Debug for SecretsKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsKeyring")
            .field("current", &self.current.as_ref().map(|k| &k.kid))
            .field("previous", &self.previous.iter().map(|k| &k.kid).collect::<Vec<_>>())
            .finish()
    }
}

/// First 8 hex characters of SHA-256 of the key.
pub fn key_id(key: &[u8; 32]) -> String {
    hex::encode(Sha256::digest(key))[..8].to_string()
}

/// A KEK from its base64 text (32 bytes).
pub fn parse_key(text: &str, setting: &str) -> anyhow::Result<[u8; 32]> {
    let raw = B64.decode(text.trim()).with_context(|| format!("{setting}: not base64"))?;
    raw.try_into().map_err(|raw: Vec<u8>| anyhow::anyhow!("{setting}: expected 32 bytes of base64, got {}", raw.len()))
}

/// 32 random bytes from the OS.
pub fn generate_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut key).expect("the OS random number generator failed");
    key
}

/// The associated data of an endpoint's secret.
pub fn endpoint_aad(endpoint_id: impl std::fmt::Display) -> String {
    format!("webhook_endpoints.secret:{endpoint_id}")
}

/// The associated data of an organization's signing secret.
pub fn organization_aad(organization_id: impl std::fmt::Display) -> String {
    format!("organizations.key_webhook_secret:{organization_id}")
}

impl SecretsKeyring {
    pub fn new(current: Option<[u8; 32]>, previous: &[[u8; 32]]) -> SecretsKeyring {
        let current = current.map(|k| Kek::new(&k));
        let mut keyring = SecretsKeyring { current, previous: Vec::new() };
        for key in previous {
            let kek = Kek::new(key);
            if !keyring.keys().any(|k| k.kid == kek.kid) {
                keyring.previous.push(kek);
            }
        }
        keyring
    }

    /// The keyring `config` asks for (see the module docs); may create the SQLite key file.
    pub fn from_config(config: &Config) -> anyhow::Result<SecretsKeyring> {
        let mut previous = config
            .secrets_key_previous
            .iter()
            .map(|k| parse_key(k.expose(), "secrets_key_previous"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let sqlite = config.database_url.starts_with("sqlite:");
        let key_file =
            sqlite.then(|| crate::store::sqlite_file(&config.database_url)).flatten().map(|db| key_file_beside(&db));
        let current = match (&config.secrets_key, &key_file) {
            (Some(key), _) => {
                // A database that used its key file until a key was configured: rows it sealed still open.
                if let Some(path) = key_file.as_deref().filter(|p| p.exists()) {
                    previous.push(read_key_file(path)?);
                }
                Some(parse_key(key.expose(), "secrets_key")?)
            }
            (None, Some(path)) => Some(load_or_create_key_file(path)?),
            (None, None) if sqlite => Some(generate_key()),
            (None, None) => None,
        };
        Ok(SecretsKeyring::new(current, &previous))
    }

    fn keys(&self) -> impl Iterator<Item = &Kek> {
        self.current.iter().chain(&self.previous)
    }

    /// Whether there is a key to seal with.
    pub fn can_seal(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the current key.
    pub fn current_kid(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.kid.as_str())
    }

    /// `plaintext` sealed under the current key, bound to `aad`.
    pub fn seal(&self, aad: &str, plaintext: &str) -> Result<String, SecretsError> {
        let kek = self.current.as_ref().ok_or(SecretsError::KeyMissing)?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = kek
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| SecretsError::Corrupt)?;
        Ok(format!("{PREFIX}{}:{}:{}", kek.kid, B64.encode(nonce), B64.encode(sealed)))
    }

    /// The plaintext of a stored value. A value without the `enc:` prefix is a
    /// row from before secrets were sealed ([`startup`] seals those).
    pub fn open(&self, aad: &str, stored: &str) -> Result<Secret, SecretsError> {
        let Some(rest) = stored.strip_prefix("enc:") else {
            return Ok(Secret(stored.to_string()));
        };
        let rest = rest.strip_prefix("v1:").ok_or(SecretsError::Corrupt)?;
        let mut parts = rest.splitn(3, ':');
        let (Some(kid), Some(nonce), Some(sealed)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretsError::Corrupt);
        };
        let kek = match self.keys().find(|k| k.kid == kid) {
            Some(kek) => kek,
            None if self.current.is_none() => return Err(SecretsError::KeyMissing),
            None => return Err(SecretsError::UnknownKey(kid.to_string())),
        };
        let nonce: [u8; 24] = B64.decode(nonce).ok().and_then(|n| n.try_into().ok()).ok_or(SecretsError::Corrupt)?;
        let sealed = B64.decode(sealed).map_err(|_| SecretsError::Corrupt)?;
        let plain = kek
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: &sealed, aad: aad.as_bytes() })
            .map_err(|_| SecretsError::Corrupt)?;
        String::from_utf8(plain).map(Secret).map_err(|_| SecretsError::Corrupt)
    }

    /// Whether `stored` is sealed under the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        self.current_kid().is_some_and(|kid| {
            stored.strip_prefix(PREFIX).and_then(|r| r.strip_prefix(kid)).is_some_and(|r| r.starts_with(':'))
        })
    }

    /// `stored` sealed under the current key: itself when it already is.
    pub fn reseal(&self, aad: &str, stored: &str) -> Result<String, SecretsError> {
        if self.is_current(stored) {
            return Ok(stored.to_string());
        }
        self.seal(aad, self.open(aad, stored)?.expose())
    }
}

fn key_file_beside(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).join(KEY_FILE)
}

fn read_key_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the secrets key file {}", path.display()))?;
    parse_key(&text, &path.display().to_string())
}

/// Reads `path`, or creates it (mode 0600, base64 of 32 random bytes) and says so once.
fn load_or_create_key_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    if path.exists() {
        return read_key_file(path);
    }
    let key = generate_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write;
            writeln!(file, "{}", B64.encode(key))
                .and_then(|_| file.sync_all())
                .with_context(|| format!("writing the secrets key file {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "KEYWARD_SECRETS_KEY is not set: created a key file that encrypts webhook secrets at rest; \
                 keep it with the database (and out of its backups), or set KEYWARD_SECRETS_KEY"
            );
            Ok(key)
        }
        // Another process created it first.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(err) => Err(err).with_context(|| format!("creating the secrets key file {}", path.display())),
    }
}

/// The associated data of one stored secret, from its row id.
type Aad = fn(&str) -> String;

/// Where secrets are stored: table, secret column (keyed by `id`), associated data.
const COLUMNS: [(&str, &str, Aad); 2] = [
    ("webhook_endpoints", "secret", |id| endpoint_aad(id)),
    ("organizations", "key_webhook_secret", |id| organization_aad(id)),
];

/// How many stored secrets exist (any form).
pub async fn count_stored_secrets(store: &Store) -> anyhow::Result<i64> {
    let mut total = 0;
    for (table, column, _) in COLUMNS {
        total += crate::store::count_stored_secrets(store.pool(), table, column).await?;
    }
    Ok(total)
}

/// The start-up check and migration. Without a key: an error naming
/// `KEYWARD_SECRETS_KEY` if any secret is stored, else a warning. With one:
/// every plaintext row and every row sealed under a previous key is sealed
/// under the current key, `BATCH` rows per transaction, until none is left.
/// Returns how many rows were (re)sealed.
pub async fn startup(store: &Store, keyring: &SecretsKeyring) -> anyhow::Result<u64> {
    let Some(kid) = keyring.current_kid() else {
        let stored = count_stored_secrets(store).await?;
        anyhow::ensure!(
            stored == 0,
            "KEYWARD_SECRETS_KEY is not set, but the database holds {stored} encrypted webhook secret(s): set \
             KEYWARD_SECRETS_KEY (and KEYWARD_SECRETS_KEY_PREVIOUS while rotating it) to the key they were sealed with"
        );
        tracing::warn!(
            "KEYWARD_SECRETS_KEY is not set: webhook endpoints and signing secrets cannot be created until it is \
             (they answer 503 secrets_key_missing)"
        );
        return Ok(0);
    };
    let current_prefix = format!("{PREFIX}{kid}:%");
    let mut resealed = 0;
    for (table, column, aad) in COLUMNS {
        let mut after = String::new();
        loop {
            let rows = crate::store::secrets_not_sealed_as(store.pool(), table, column, &current_prefix, &after, BATCH)
                .await?;
            let Some((last, _)) = rows.last() else { break };
            after = last.clone();
            let mut tx = store.begin().await?;
            for (id, old) in &rows {
                let new = keyring
                    .reseal(&aad(id), old)
                    .with_context(|| format!("re-sealing {table}.{column} of row {id}"))?;
                // Only if unchanged since read (another process may have re-sealed or rotated it).
                resealed += crate::store::replace_stored_secret(&mut tx, table, column, id, old, &new).await?;
            }
            tx.commit().await?;
        }
    }
    if resealed > 0 {
        tracing::info!(rows = resealed, key_id = kid, "sealed stored webhook secrets under the current secrets key");
    }
    Ok(resealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_bound_to_the_row() {
        let ring = SecretsKeyring::new(Some([7; 32]), &[]);
        let sealed = ring.seal(&endpoint_aad("a"), "whsec_abc").unwrap();
        assert!(sealed.starts_with(&format!("{PREFIX}{}:", key_id(&[7; 32]))), "{sealed}");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(ring.open(&endpoint_aad("a"), &sealed).unwrap().expose(), "whsec_abc");
        assert!(matches!(ring.open(&endpoint_aad("b"), &sealed), Err(SecretsError::Corrupt)));
        assert!(matches!(ring.open(&organization_aad("a"), &sealed), Err(SecretsError::Corrupt)));
        assert_ne!(ring.seal(&endpoint_aad("a"), "whsec_abc").unwrap(), sealed, "fresh nonce each time");
        assert!(ring.is_current(&sealed));
        assert_eq!(ring.open("x", "whsec_legacy").unwrap().expose(), "whsec_legacy");
    }

    #[test]
    fn previous_keys_open_and_reseal() {
        let old = SecretsKeyring::new(Some([1; 32]), &[]);
        let sealed = old.seal("r", "whsec_x").unwrap();
        let new = SecretsKeyring::new(Some([2; 32]), &[[1; 32]]);
        assert!(!new.is_current(&sealed));
        let resealed = new.reseal("r", &sealed).unwrap();
        assert!(new.is_current(&resealed) && resealed != sealed);
        assert_eq!(new.open("r", &resealed).unwrap().expose(), "whsec_x");
        let stranger = SecretsKeyring::new(Some([3; 32]), &[]);
        assert!(matches!(stranger.open("r", &sealed), Err(SecretsError::UnknownKey(_))));
        assert!(matches!(SecretsKeyring::new(None, &[]).seal("r", "x"), Err(SecretsError::KeyMissing)));
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let ring = SecretsKeyring::new(Some([9; 32]), &[[8; 32]]);
        let text = format!("{ring:?} {:?}", ring.open("r", &ring.seal("r", "whsec_secret").unwrap()).unwrap());
        assert!(text.contains(&key_id(&[9; 32])) && !text.contains("whsec_secret"), "{text}");
    }

    #[test]
    fn keys_parse_as_base64_of_32_bytes() {
        assert_eq!(parse_key(&B64.encode([5u8; 32]), "k").unwrap(), [5; 32]);
        assert!(parse_key(&B64.encode([5u8; 16]), "k").is_err());
        assert!(parse_key("not base64!", "k").is_err());
    }
}
