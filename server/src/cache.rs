//! Key records by hash, in memory (DESIGN §7). Unknown hashes are cached too
//! (negative entries) so a flood of well-formed but unknown keys costs one
//! lookup each per TTL. Every write to a key invalidates its old and new hash
//! before the response is sent.
//!
//! Entries are stored pre-parsed ([`CachedKey`]): scopes, CIDRs and meta are
//! decoded once per load, not once per verify. Concurrent misses for the same
//! hash share one database read (`try_get_with`).
//!
//! A load that raced with a write (it read the row before the write committed
//! and finished after the invalidation) must not serve the old row: each entry
//! remembers the invalidation generation at which its load started, and a hit
//! older than a later invalidation of the same hash is dropped and reloaded.

use crate::{
    api::validate::parse_ip_rule,
    store::{KeyRecord, Store, find_key_by_hash},
};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use moka::future::Cache;
use serde_json::value::RawValue;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// A key record with the fields verify reads already decoded.
#[derive(Debug)]
pub struct CachedKey {
    pub record: KeyRecord,
    /// The id as a number (rate-limit buckets and usage counters are keyed by it).
    pub id: u128,
    pub scopes: Arc<Vec<String>>,
    pub allowed_ips: Vec<IpNet>,
    /// Whether the key has any `allowed_ips` rule at all.
    pub ip_restricted: bool,
    /// The `meta` JSON object, validated once and re-emitted verbatim.
    pub meta: Box<RawValue>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl CachedKey {
    pub fn new(record: KeyRecord) -> Self {
        let id = uuid::Uuid::parse_str(&record.id).map(|u| u.as_u128()).unwrap_or_default();
        let scopes: Vec<String> = serde_json::from_str(&record.scopes).unwrap_or_default();
        let ips: Vec<String> = serde_json::from_str(&record.allowed_ips).unwrap_or_default();
        let allowed_ips = ips.iter().filter_map(|r| parse_ip_rule(r.trim())).collect();
        let ip_restricted = !ips.is_empty();
        let meta = serde_json::from_str::<Box<RawValue>>(&record.meta)
            .ok()
            .filter(|raw| raw.get().trim_start().starts_with('{'))
            .unwrap_or_else(|| RawValue::from_string("{}".into()).expect("valid JSON"));
        let expires_at = record.expires_at.map(crate::api::api_keys::ms_to_time);
        CachedKey { record, id, scopes: Arc::new(scopes), allowed_ips, ip_restricted, meta, expires_at }
    }

    /// Whether `allowed_ips` lets `ip` present the key (an empty list allows all).
    /// A key whose rules were all unparseable allows nobody.
    pub fn ip_allowed(&self, ip: Option<std::net::IpAddr>) -> bool {
        if !self.ip_restricted {
            return true;
        }
        ip.is_some_and(|ip| self.allowed_ips.iter().any(|net| net.contains(&ip)))
    }
}

struct Entry {
    /// Invalidation generation when the load that produced this entry started.
    loaded_at_gen: u64,
    key: Option<Arc<CachedKey>>,
}

#[derive(Clone)]
pub struct KeyCache {
    store: Store,
    entries: Option<Cache<String, Arc<Entry>>>,
    /// Hashes invalidated recently, with the generation of their last invalidation.
    recent: Option<Cache<String, u64>>,
    stats: Arc<CacheStats>,
}

#[derive(Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    generation: AtomicU64,
}

/// How long an invalidation is remembered: longer than any entry lives.
fn recent_ttl(ttl: Duration) -> Duration {
    ttl.saturating_mul(2).max(Duration::from_secs(60))
}

impl KeyCache {
    pub fn new(store: Store, capacity: u64, ttl: Duration) -> Self {
        let entries = (capacity > 0).then(|| Cache::builder().max_capacity(capacity).time_to_live(ttl).build());
        let recent =
            (capacity > 0).then(|| Cache::builder().max_capacity(capacity.max(10_000)).time_to_live(recent_ttl(ttl)).build());
        Self { store, entries, recent, stats: Arc::default() }
    }

    /// The record for `hash`, from memory when possible.
    pub async fn lookup(&self, hash: &str) -> Result<Option<Arc<CachedKey>>, sqlx::Error> {
        let (Some(entries), Some(recent)) = (&self.entries, &self.recent) else {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            return self.load(hash).await;
        };
        if let Some(hit) = entries.get(hash).await {
            if !self.is_stale(recent, hash, &hit).await {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(hit.key.clone());
            }
            entries.invalidate(hash).await;
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        for _ in 0..3 {
            let loaded = entries
                .try_get_with_by_ref(hash, async {
                    let loaded_at_gen = self.stats.generation.load(Ordering::Acquire);
                    let key = self.load(hash).await?;
                    Ok::<_, sqlx::Error>(Arc::new(Entry { loaded_at_gen, key }))
                })
                .await
                .map_err(unshare)?;
            if !self.is_stale(recent, hash, &loaded).await {
                return Ok(loaded.key.clone());
            }
            entries.invalidate(hash).await;
        }
        // Writes keep racing with this hash: answer from the database, uncached.
        self.load(hash).await
    }

    async fn is_stale(&self, recent: &Cache<String, u64>, hash: &str, entry: &Entry) -> bool {
        entry.loaded_at_gen < self.stats.generation.load(Ordering::Acquire)
            && recent.get(hash).await.is_some_and(|g| g > entry.loaded_at_gen)
    }

    async fn load(&self, hash: &str) -> Result<Option<Arc<CachedKey>>, sqlx::Error> {
        let mut conn = self.store.pool().acquire().await?;
        Ok(find_key_by_hash(&mut conn, hash).await?.map(|r| Arc::new(CachedKey::new(r))))
    }

    /// Drop `hash`; call after the write commits and before answering.
    pub async fn invalidate(&self, hash: &str) {
        let generation = self.stats.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if let Some(recent) = &self.recent {
            recent.insert(hash.to_string(), generation).await;
        }
        if let Some(entries) = &self.entries {
            entries.invalidate(hash).await;
        }
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.entry_count())
    }

    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }
}

fn unshare(err: Arc<sqlx::Error>) -> sqlx::Error {
    Arc::try_unwrap(err).unwrap_or_else(|shared| match &*shared {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        other => sqlx::Error::Protocol(other.to_string()),
    })
}
