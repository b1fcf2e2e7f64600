//! Key records by hash, in memory (DESIGN §7). Unknown hashes are cached too
//! (negative entries) so a flood of well-formed but unknown keys costs one
//! lookup each per TTL. Every write to a key invalidates its old and new hash
//! before the response is sent.

use crate::store::{KeyRecord, Store, find_key_by_hash};
use moka::future::Cache;
use std::{sync::Arc, time::Duration};

#[derive(Clone)]
pub struct KeyCache {
    store: Store,
    entries: Option<Cache<String, Option<Arc<KeyRecord>>>>,
}

impl KeyCache {
    pub fn new(store: Store, capacity: u64, ttl: Duration) -> Self {
        let entries = (capacity > 0).then(|| Cache::builder().max_capacity(capacity).time_to_live(ttl).build());
        Self { store, entries }
    }

    /// The record for `hash`, from memory when possible.
    pub async fn lookup(&self, hash: &str) -> Result<Option<Arc<KeyRecord>>, sqlx::Error> {
        let Some(entries) = &self.entries else {
            return self.load(hash).await;
        };
        if let Some(hit) = entries.get(hash).await {
            return Ok(hit);
        }
        let loaded = self.load(hash).await?;
        entries.insert(hash.to_string(), loaded.clone()).await;
        Ok(loaded)
    }

    async fn load(&self, hash: &str) -> Result<Option<Arc<KeyRecord>>, sqlx::Error> {
        let mut conn = self.store.pool().acquire().await?;
        Ok(find_key_by_hash(&mut conn, hash).await?.map(Arc::new))
    }

    pub async fn invalidate(&self, hash: &str) {
        if let Some(entries) = &self.entries {
            entries.invalidate(hash).await;
        }
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.entry_count())
    }
}
