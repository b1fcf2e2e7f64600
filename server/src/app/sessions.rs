//! Session JWTs (`docs/architecture.md#authentication`): a bearer token that is not a keyward key is a
//! dashboard session issued by the SaaS's identity provider (Supabase, Clerk,
//! Auth0, …). HS256 with `KEYWARD_JWT_SECRET` (raw UTF-8 bytes) or RS256/ES256
//! with keys from `KEYWARD_JWKS_URL`; `aud`/`iss` are checked only when
//! configured; 60 s leeway; `sub` is the user id.
//!
//! The JWKS is fetched lazily, kept for [`JWKS_MAX_AGE`], and refetched early
//! when a token names an unknown `kid` — at most once per
//! `jwks_min_refresh_interval`, so a flood of made-up `kid`s cannot turn the
//! server into a load generator against the identity provider.

use crate::config::Config;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, JwkSet},
};
use serde::Deserialize;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};
use tokio::sync::{Mutex, RwLock};

/// A fetched JWKS is trusted this long before it is refetched.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
const JWKS_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// What a verified session says about its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The `sub` claim: the user id memberships refer to.
    pub user_id: String,
    /// A Clerk-style `org_id` claim, if present.
    pub org_id: Option<String>,
}

/// Why a token was refused. The message says why and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("invalid credentials: not a valid keyward API key, and session tokens are not enabled on this server")]
    NotConfigured,
    #[error("session token is malformed")]
    Malformed,
    #[error("session token has expired")]
    Expired,
    #[error("session token is not valid yet")]
    NotYetValid,
    #[error("session token signature is invalid")]
    BadSignature,
    #[error("session token audience is not accepted")]
    WrongAudience,
    #[error("session token issuer is not accepted")]
    WrongIssuer,
    #[error("session token is missing the `{0}` claim")]
    MissingClaim(String),
    #[error("session token algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("session token signing key is unknown")]
    UnknownKey,
    #[error("session token signing keys are unavailable")]
    JwksUnavailable,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    #[serde(default)]
    org_id: Option<serde_json::Value>,
}

struct CachedKey {
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Default)]
struct JwksCache {
    keys: HashMap<String, CachedKey>,
    /// Keys published without a `kid`, tried when a token carries none.
    anonymous: Vec<CachedKey>,
    fetched_at: Option<Instant>,
}

struct Jwks {
    url: String,
    http: reqwest::Client,
    min_refresh_interval: Duration,
    cache: RwLock<JwksCache>,
    /// Serialises fetches; holds when the last one was attempted.
    fetch: Mutex<Option<Instant>>,
}

pub struct SessionVerifier {
    hmac: Option<DecodingKey>,
    jwks: Option<Jwks>,
    audience: Option<Vec<String>>,
    issuer: Option<Vec<String>>,
}

impl std::fmt::Debug for SessionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionVerifier")
            .field("hs256", &self.hmac.is_some())
            .field("jwks_url", &self.jwks.as_ref().map(|j| j.url.as_str()))
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .finish()
    }
}

fn split_list(value: &Option<String>) -> Option<Vec<String>> {
    let items: Vec<String> =
        value.as_deref()?.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    (!items.is_empty()).then_some(items)
}

impl SessionVerifier {
    pub fn new(config: &Config) -> Self {
        let hmac = config
            .jwt_secret
            .as_ref()
            .filter(|s| !s.expose().is_empty())
            .map(|s| DecodingKey::from_secret(s.expose().as_bytes()));
        let jwks = config.jwks_url.as_ref().filter(|u| !u.is_empty()).map(|url| Jwks {
            url: url.clone(),
            http: reqwest::Client::builder().timeout(JWKS_TIMEOUT).build().unwrap_or_default(),
            min_refresh_interval: config.jwks_min_refresh_interval,
            cache: RwLock::default(),
            fetch: Mutex::new(None),
        });
        SessionVerifier {
            hmac,
            jwks,
            audience: split_list(&config.jwt_audience),
            issuer: split_list(&config.jwt_issuer),
        }
    }

    /// Whether any session method is configured.
    pub fn enabled(&self) -> bool {
        self.hmac.is_some() || self.jwks.is_some()
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.audience {
            Some(aud) => {
                v.set_audience(aud);
                required.push("aud");
            }
            // A token carrying an `aud` must still pass when none is configured.
            None => v.validate_aud = false,
        }
        if let Some(iss) = &self.issuer {
            v.set_issuer(iss);
            required.push("iss");
        }
        v.set_required_spec_claims(&required);
        v
    }

    pub async fn verify(&self, token: &str) -> Result<Session, SessionError> {
        if !self.enabled() {
            return Err(SessionError::NotConfigured);
        }
        let header = decode_header(token).map_err(|_| SessionError::Malformed)?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let key = self.hmac.as_ref().ok_or_else(|| SessionError::Algorithm("HS256".into()))?;
                decode::<Claims>(token, key, &self.validation(Algorithm::HS256)).map_err(map_error)?.claims
            }
            alg @ (Algorithm::RS256 | Algorithm::ES256) => {
                let jwks = self.jwks.as_ref().ok_or_else(|| SessionError::Algorithm(format!("{alg:?}")))?;
                let validation = self.validation(alg);
                jwks.decode(token, header.kid.as_deref(), alg, &validation).await?
            }
            other => return Err(SessionError::Algorithm(format!("{other:?}"))),
        };
        let user_id = claims.sub.filter(|s| !s.is_empty()).ok_or_else(|| SessionError::MissingClaim("sub".into()))?;
        if user_id.len() > 255 || user_id.chars().any(char::is_control) {
            return Err(SessionError::Malformed);
        }
        let org_id = match claims.org_id {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        Ok(Session { user_id, org_id })
    }
}

fn map_error(err: jsonwebtoken::errors::Error) -> SessionError {
    match err.kind() {
        ErrorKind::ExpiredSignature => SessionError::Expired,
        ErrorKind::ImmatureSignature => SessionError::NotYetValid,
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => SessionError::BadSignature,
        ErrorKind::InvalidAudience => SessionError::WrongAudience,
        ErrorKind::InvalidIssuer => SessionError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) => SessionError::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => SessionError::Algorithm("of this key".into()),
        _ => SessionError::Malformed,
    }
}

/// Whether a published key can verify `alg` (RS256: RSA; ES256: P-256).
fn key_algorithm(params: &AlgorithmParameters) -> Option<Algorithm> {
    match params {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
        _ => None,
    }
}

impl Jwks {
    async fn decode(
        &self,
        token: &str,
        kid: Option<&str>,
        alg: Algorithm,
        validation: &Validation,
    ) -> Result<Claims, SessionError> {
        let stale = self.cache.read().await.fetched_at.is_none_or(|at| at.elapsed() > JWKS_MAX_AGE);
        if stale {
            self.refresh().await;
        }
        match self.try_decode(token, kid, alg, validation).await {
            Err(SessionError::UnknownKey) => {
                // Maybe the provider rotated its keys: refetch (rate-bounded) and retry once.
                self.refresh().await;
                if self.cache.read().await.fetched_at.is_none() {
                    return Err(SessionError::JwksUnavailable);
                }
                self.try_decode(token, kid, alg, validation).await
            }
            other => other,
        }
    }

    async fn try_decode(
        &self,
        token: &str,
        kid: Option<&str>,
        alg: Algorithm,
        validation: &Validation,
    ) -> Result<Claims, SessionError> {
        let cache = self.cache.read().await;
        let candidates: Vec<&CachedKey> = match kid {
            Some(kid) => cache.keys.get(kid).into_iter().collect(),
            None => cache.anonymous.iter().chain(cache.keys.values()).filter(|k| k.alg == alg).collect(),
        };
        if candidates.is_empty() {
            return Err(SessionError::UnknownKey);
        }
        let mut last = SessionError::BadSignature;
        for key in candidates {
            if key.alg != alg {
                last = SessionError::Algorithm(format!("{alg:?}"));
                continue;
            }
            match decode::<Claims>(token, &key.key, validation) {
                Ok(data) => return Ok(data.claims),
                Err(err) => last = map_error(err),
            }
            // A signature that matched but failed a claim check is final.
            if last != SessionError::BadSignature {
                break;
            }
        }
        Err(last)
    }

    /// Fetches the JWKS unless a fetch was attempted less than
    /// `min_refresh_interval` ago (concurrent callers wait for one fetch).
    async fn refresh(&self) {
        let mut last_attempt = self.fetch.lock().await;
        if last_attempt.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            return;
        }
        *last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                let mut fresh = JwksCache { fetched_at: Some(Instant::now()), ..JwksCache::default() };
                for jwk in &set.keys {
                    let Some(alg) = key_algorithm(&jwk.algorithm) else { continue };
                    if let Some(declared) = jwk.common.key_algorithm
                        && Algorithm::try_from(declared).ok() != Some(alg)
                    {
                        continue;
                    }
                    let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
                    match &jwk.common.key_id {
                        Some(kid) => {
                            fresh.keys.insert(kid.clone(), CachedKey { alg, key });
                        }
                        None => fresh.anonymous.push(CachedKey { alg, key }),
                    }
                }
                tracing::debug!(keys = fresh.keys.len() + fresh.anonymous.len(), "jwks refreshed");
                *self.cache.write().await = fresh;
            }
            Err(err) => tracing::warn!(url = %self.url, error = %err, "fetching the JWKS failed"),
        }
    }

    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        let response = self.http.get(&self.url).send().await?.error_for_status()?;
        let bytes = response.bytes().await?;
        anyhow::ensure!(bytes.len() <= MAX_JWKS_BYTES, "JWKS larger than {MAX_JWKS_BYTES} bytes");
        Ok(serde_json::from_slice(&bytes)?)
    }
}
