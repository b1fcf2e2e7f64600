use crate::{cache::KeyCache, config::Config, store::Store};
use std::sync::Arc;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub keys: KeyCache,
}

impl AppState {
    pub fn new(store: Store, config: Config) -> Self {
        let keys = KeyCache::new(store.clone(), config.cache_capacity, config.cache_ttl);
        Self { store, config: Arc::new(config), keys }
    }
}
