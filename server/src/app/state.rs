use crate::{
    cache::KeyCache, config::Config, metrics::Metrics, ratelimit::RateLimiter, store::Store, usage::UsageRecorder,
};
use std::sync::{Arc, atomic::AtomicBool};

/// Shared by every handler; cheap to clone: one reference count (axum clones
/// the state for every `from_fn_with_state` middleware and `State` extractor
/// of every request). Fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

pub struct AppStateInner {
    pub store: Store,
    pub config: Arc<Config>,
    pub keys: KeyCache,
    /// Per-key rate-limit buckets (verify and the caller's own key).
    pub limiter: Arc<RateLimiter>,
    /// Failed authentications per client address (a bucket per address).
    pub auth_failures: Arc<RateLimiter>,
    /// `last_used_at`, `usage_count` and hourly counters, written behind.
    pub usage: Arc<UsageRecorder>,
    pub metrics: Arc<Metrics>,
    /// Verifies session JWTs (HS256 secret or a cached JWKS).
    pub sessions: Arc<crate::app::sessions::SessionVerifier>,
    /// Sends webhooks (no redirects; public addresses only unless allowed).
    pub webhook_client: reqwest::Client,
    /// Some stored key was imported: a key that fails our checksum may still
    /// be one of them, so verify looks it up by hash instead of answering
    /// MALFORMED without I/O. Set at start and by imports.
    pub imported_keys: Arc<AtomicBool>,
    /// Throttles the `api_key.usage_exceeded` claim on refused verifies.
    pub usage_exceeded_claims: Arc<crate::webhooks::RecentClaims>,
    /// Seals and opens webhook secrets stored in the database.
    pub secrets: Arc<crate::secrets::SecretsKeyring>,
}

impl AppState {
    /// [`AppState::try_new`], panicking on a configuration error (tests).
    pub fn new(store: Store, config: Config) -> Self {
        Self::try_new(store, config).expect("application state")
    }

    /// The state for `config`: fails on a bad secrets key or proxy, or when the
    /// SQLite key file cannot be read or created.
    pub fn try_new(store: Store, config: Config) -> anyhow::Result<Self> {
        let secrets = Arc::new(crate::secrets::SecretsKeyring::from_config(&config)?);
        let keys = KeyCache::new(store.clone(), config.cache_capacity, config.cache_ttl);
        let sessions = Arc::new(crate::app::sessions::SessionVerifier::new(&config));
        let webhook_client = crate::webhooks::client(
            config.webhook_allow_private,
            config.webhook_timeout,
            config.webhook_proxy.as_ref().map(|p| p.expose()),
        )?;
        Ok(Self(Arc::new(AppStateInner {
            store,
            config: Arc::new(config),
            keys,
            limiter: Arc::default(),
            auth_failures: Arc::default(),
            usage: Arc::default(),
            metrics: Arc::default(),
            sessions,
            webhook_client,
            imported_keys: Arc::default(),
            usage_exceeded_claims: Arc::default(),
            secrets,
        })))
    }
}
