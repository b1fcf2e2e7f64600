//! Key records by hash, in memory (`docs/architecture.md#the-verify-path`). Unknown hashes are cached too
//! (negative entries) so a flood of well-formed but unknown keys costs one
//! lookup each per TTL. Every write to a key invalidates its old and new hash
//! before the response is sent.
//!
//! Sized for millions of keys: entries are keyed by the raw 32-byte SHA-256
//! digest in sharded hash maps (the digest is already uniform, so it is its
//! own hash), and hold a compact, pre-parsed [`CachedKey`]: only the fields
//! verify and caller authentication read, with scopes, CIDRs and meta decoded
//! once per load, and the strings many keys share (organization, project,
//! environment, scope lists, meta) interned. Concurrent misses for the same
//! hash share one database read.
//!
//! Capacity is approximate (per shard, with a little statistical slack); a
//! full shard drops expired entries first, then entries not hit since the
//! last eviction pass (second chance). Expired entries are also swept in the
//! background ([`KeyCache::sweep_expired`]).
//!
//! A load that raced with a write (it read the row before the write committed
//! and finished after the invalidation) must not serve the old row: each entry
//! remembers the invalidation generation at which its load started, and a hit
//! older than a later invalidation of the same hash is dropped and reloaded.

pub mod sync;

use crate::{
    domain::network::parse_ip_rule,
    store::{KeyId, KeyRecord, OrgId, ProjectId, Store},
};
use chrono::{DateTime, Utc};
use futures::{FutureExt, future::Shared};
use ipnet::IpNet;
use serde_json::value::RawValue;
use std::{
    collections::HashMap,
    fmt,
    future::Future,
    hash::{BuildHasherDefault, Hash, Hasher},
    ops::Deref,
    pin::Pin,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

// ---------------------------------------------------------------- the cached record

/// A string many cached keys share (the environment name), interned.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IStr(Arc<str>);

impl Deref for IStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for IStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The fields of a [`KeyRecord`] that verify and caller authentication read,
/// under the same names.
#[derive(Debug)]
pub struct KeyView {
    pub id: KeyId,
    pub organization_id: OrgId,
    pub project_id: Option<ProjectId>,
    pub environment: IStr,
    pub name: Box<str>,
    /// `expires_at`, `revoked_at` (i64::MAX for none) and `is_active`, packed
    /// (read through [`crate::domain::keys::KeyLifecycle`]).
    expires_at_ms: i64,
    revoked_at_ms: i64,
    active: bool,
    pub rate_limit_limit: Option<i64>,
    pub rate_limit_window_ms: Option<i64>,
    pub usage_remaining: Option<i64>,
    pub grace_expires_at: Option<i64>,
}

/// A key record with the fields verify reads already decoded.
#[derive(Debug)]
pub struct CachedKey {
    pub record: KeyView,
    /// The id as a number (rate-limit buckets and usage counters are keyed by it).
    pub id: u128,
    pub scopes: Arc<Vec<String>>,
    pub allowed_ips: Box<[IpNet]>,
    /// Whether the key has any `allowed_ips` rule at all.
    pub ip_restricted: bool,
    /// The `meta` JSON object, validated once and re-emitted verbatim.
    pub meta: Arc<RawValue>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl CachedKey {
    /// Decode `record` on its own (nothing shared with other keys).
    pub fn new(record: KeyRecord) -> Self {
        Self::decode(record, &Interners::default())
    }

    fn decode(record: KeyRecord, interners: &Interners) -> Self {
        let id = record.id.uuid().as_u128();
        let scopes = interners.json.intern(&record.scopes, |text| {
            Interned::Scopes(Arc::new(serde_json::from_str::<Vec<String>>(text).unwrap_or_default()))
        });
        let Interned::Scopes(scopes) = scopes else { unreachable!("scopes interned as scopes") };
        let ips: Vec<String> = serde_json::from_str(&record.allowed_ips).unwrap_or_default();
        let allowed_ips = ips.iter().filter_map(|r| parse_ip_rule(r.trim())).collect();
        let ip_restricted = !ips.is_empty();
        let meta = interners.json.intern(&format!("meta:{}", record.meta), |_| {
            let raw = serde_json::from_str::<Box<RawValue>>(&record.meta)
                .ok()
                .filter(|raw| raw.get().trim_start().starts_with('{'))
                .unwrap_or_else(|| RawValue::from_string("{}".into()).expect("valid JSON"));
            Interned::Meta(Arc::from(raw))
        });
        let Interned::Meta(meta) = meta else { unreachable!("meta interned as meta") };
        let expires_at = record.expires_at.map(crate::domain::time::ms_to_time);
        let text = |s: &str| {
            IStr(match interners.strings.intern(s, |s| Interned::Str(Arc::from(s))) {
                Interned::Str(s) => s,
                _ => unreachable!("strings interned as strings"),
            })
        };
        let view = KeyView {
            organization_id: record.organization_id,
            project_id: record.project_id,
            environment: text(&record.environment),
            id: record.id,
            name: record.name.into_boxed_str(),
            expires_at_ms: record.expires_at.unwrap_or(i64::MAX),
            revoked_at_ms: record.revoked_at.unwrap_or(i64::MAX),
            active: record.is_active != 0,
            rate_limit_limit: record.rate_limit_limit,
            rate_limit_window_ms: record.rate_limit_window_ms,
            usage_remaining: record.usage_remaining,
            grace_expires_at: record.grace_expires_at,
        };
        CachedKey { record: view, id, scopes, allowed_ips, ip_restricted, meta, expires_at }
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

#[derive(Clone)]
enum Interned {
    Str(Arc<str>),
    Scopes(Arc<Vec<String>>),
    Meta(Arc<RawValue>),
}

impl Interned {
    fn shared_elsewhere(&self) -> bool {
        match self {
            Interned::Str(a) => Arc::strong_count(a) > 1,
            Interned::Scopes(a) => Arc::strong_count(a) > 1,
            Interned::Meta(a) => Arc::strong_count(a) > 1,
        }
    }
}

/// Values by their text. Values no cached key holds any more are dropped
/// whenever the table has doubled since the last sweep.
#[derive(Default)]
struct Interner {
    table: Mutex<(HashMap<Box<str>, Interned>, usize)>,
}

impl Interner {
    fn intern(&self, text: &str, make: impl FnOnce(&str) -> Interned) -> Interned {
        let mut guard = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let (table, sweep_at) = &mut *guard;
        if let Some(v) = table.get(text) {
            return v.clone();
        }
        if table.len() >= *sweep_at {
            table.retain(|_, v| v.shared_elsewhere());
            *sweep_at = (table.len() * 2).max(1024);
        }
        let v = make(text);
        table.insert(text.into(), v.clone());
        v
    }
}

#[derive(Default)]
struct Interners {
    strings: Interner,
    json: Interner,
}

// ---------------------------------------------------------------- the map

/// A SHA-256 digest; uniformly distributed, so its first 8 bytes are its hash.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Digest([u8; 32]);

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from_le_bytes(self.0[..8].try_into().expect("8 bytes")));
    }
}

impl Digest {
    fn from_hex(hex_hash: &str) -> Option<Digest> {
        let mut d = [0u8; 32];
        hex::decode_to_slice(hex_hash, &mut d).ok()?;
        Some(Digest(d))
    }

    fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    fn shard(&self) -> usize {
        self.0[8] as usize % SHARDS
    }
}

#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Digest`; a plain FNV-1a for completeness.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

const SHARDS: usize = 64;

/// Expiry resolution: 1/16 s (a `u32` of ticks lasts 8 years).
const TICK_MS: u64 = 1000 / 16;

/// A cache entry: the key (none for an unknown hash) and its bookkeeping,
/// in one allocation.
pub struct Entry {
    key: Option<CachedKey>,
    /// Invalidation generation when the load that produced this entry started.
    loaded_at_gen: u64,
    /// In [`TICK_MS`] ticks since the cache's epoch.
    expires_at: u32,
    /// Hit since the last eviction pass.
    referenced: AtomicBool,
}

impl crate::domain::keys::KeyLifecycle for KeyView {
    fn revoked_at(&self) -> Option<i64> {
        (self.revoked_at_ms != i64::MAX).then_some(self.revoked_at_ms)
    }
    fn is_active(&self) -> bool {
        self.active
    }
    fn expires_at(&self) -> Option<i64> {
        (self.expires_at_ms != i64::MAX).then_some(self.expires_at_ms)
    }
}

/// A key from the cache (a cheap reference-counted handle; derefs to [`CachedKey`]).
#[derive(Clone)]
pub struct KeyRef(Arc<Entry>);

impl Deref for KeyRef {
    type Target = CachedKey;
    fn deref(&self) -> &CachedKey {
        self.0.key.as_ref().expect("a KeyRef always holds a key")
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

fn key_ref(entry: &Arc<Entry>) -> Option<KeyRef> {
    entry.key.is_some().then(|| KeyRef(entry.clone()))
}

type Map = HashMap<Digest, Arc<Entry>, BuildHasherDefault<DigestHasher>>;

type Load = Shared<Pin<Box<dyn Future<Output = Result<Arc<Entry>, Arc<sqlx::Error>>> + Send>>>;

struct Inner {
    store: Store,
    shards: Vec<RwLock<Map>>,
    shard_capacity: usize,
    ttl_ticks: u32,
    epoch: Instant,
    inflight: Mutex<HashMap<Digest, Load>>,
    interners: Interners,
    next_sweep: AtomicUsize,
    /// Hashes invalidated recently, with the generation of their last invalidation.
    recent: moka::future::Cache<Digest, u64>,
    stats: CacheStats,
    /// The generation of the last [`KeyCache::clear`].
    cleared_at_gen: AtomicU64,
    enabled: bool,
}

/// Cheap to clone (one reference count).
#[derive(Clone)]
pub struct KeyCache {
    inner: Arc<Inner>,
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

fn read(lock: &RwLock<Map>) -> std::sync::RwLockReadGuard<'_, Map> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write(lock: &RwLock<Map>) -> std::sync::RwLockWriteGuard<'_, Map> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl KeyCache {
    /// `capacity` 0 disables caching (every lookup reads the database).
    pub fn new(store: Store, capacity: u64, ttl: Duration) -> Self {
        let per_shard = capacity as f64 / SHARDS as f64;
        // Digests spread evenly, but not exactly: leave room for ~4 standard deviations.
        let shard_capacity = (per_shard + 4.0 * per_shard.sqrt()).ceil() as usize + 8;
        let enabled = capacity > 0;
        let inner = Inner {
            store,
            shards: (0..if enabled { SHARDS } else { 0 }).map(|_| RwLock::new(Map::default())).collect(),
            shard_capacity,
            // Rounded up, so a TTL is never cut short.
            ttl_ticks: (ttl.as_millis().div_ceil(u128::from(TICK_MS))).min(u128::from(u32::MAX / 4)) as u32,
            epoch: Instant::now(),
            inflight: Mutex::default(),
            interners: Interners::default(),
            next_sweep: AtomicUsize::new(0),
            recent: moka::future::Cache::builder()
                .max_capacity(if enabled { capacity.max(10_000) } else { 0 })
                .time_to_live(recent_ttl(ttl))
                .build(),
            stats: CacheStats::default(),
            cleared_at_gen: AtomicU64::new(0),
            enabled,
        };
        Self { inner: Arc::new(inner) }
    }

    /// The record for `hash` (hex SHA-256), from memory when possible.
    pub async fn lookup(&self, hash: &str) -> Result<Option<KeyRef>, sqlx::Error> {
        match Digest::from_hex(hash) {
            Some(digest) => self.lookup_digest(digest.0).await,
            None => {
                self.inner.stats.misses.fetch_add(1, Ordering::Relaxed);
                Ok(key_ref(&load(&self.inner, hash, 0, false).await?))
            }
        }
    }

    /// The record for a raw SHA-256 `digest`: on a hit no hex is ever
    /// formatted (only a database read needs the hex form).
    pub async fn lookup_digest(&self, digest: [u8; 32]) -> Result<Option<KeyRef>, sqlx::Error> {
        let inner = &self.inner;
        let digest = Digest(digest);
        if !inner.enabled {
            inner.stats.misses.fetch_add(1, Ordering::Relaxed);
            return Ok(key_ref(&load(inner, &digest.to_hex(), 0, false).await?));
        }
        let now = inner.now();
        let hit = read(&inner.shards[digest.shard()]).get(&digest).filter(|e| e.expires_at > now).cloned();
        if let Some(entry) = hit {
            if !entry.referenced.load(Ordering::Relaxed) {
                entry.referenced.store(true, Ordering::Relaxed);
            }
            if !self.is_stale(digest, entry.loaded_at_gen).await {
                inner.stats.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(key_ref(&entry));
            }
            inner.remove(digest);
        }
        inner.stats.misses.fetch_add(1, Ordering::Relaxed);
        let hash = digest.to_hex();
        for _ in 0..3 {
            let entry = self.load_shared(digest, &hash).await.map_err(unshare)?;
            if !self.is_stale(digest, entry.loaded_at_gen).await {
                return Ok(key_ref(&entry));
            }
            inner.remove(digest);
        }
        // Writes keep racing with this hash: answer from the database, uncached.
        Ok(key_ref(&load(inner, &hash, 0, false).await?))
    }

    /// One database read per hash at a time; the result is cached by the read itself.
    fn load_shared(&self, digest: Digest, hash: &str) -> Load {
        let mut inflight = self.inner.inflight.lock().unwrap_or_else(|p| p.into_inner());
        inflight
            .entry(digest)
            .or_insert_with(|| {
                let (inner, hash) = (self.inner.clone(), hash.to_string());
                let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
                    let generation = inner.stats.generation.load(Ordering::Acquire);
                    let loaded = load(&inner, &hash, generation, true).await;
                    if let Ok(entry) = &loaded {
                        inner.insert(digest, entry.clone());
                    }
                    inner.inflight.lock().unwrap_or_else(|p| p.into_inner()).remove(&digest);
                    loaded.map_err(Arc::new)
                });
                fut.shared()
            })
            .clone()
    }

    async fn is_stale(&self, digest: Digest, loaded_at_gen: u64) -> bool {
        loaded_at_gen < self.inner.stats.generation.load(Ordering::Acquire)
            && (loaded_at_gen < self.inner.cleared_at_gen.load(Ordering::Acquire)
                || self.inner.recent.get(&digest).await.is_some_and(|g| g > loaded_at_gen))
    }

    /// Drop `hash` here and, on Postgres, on every other replica (a
    /// `NOTIFY` they follow with [`crate::cache::sync`]); call after the write
    /// commits and before answering.
    pub async fn invalidate(&self, hash: &str) {
        self.forget(hash).await;
        if self.inner.store.backend() == crate::store::Backend::Postgres
            && let Err(err) = crate::cache::sync::announce(&self.inner.store, hash).await
        {
            // The other replicas' TTL is the bound when this is lost.
            tracing::warn!(error = %err, "could not announce a key change to other replicas");
        }
    }

    /// Drop everything: entries loaded before this call are never served.
    /// For when invalidations may have been missed (a lost connection to
    /// the other replicas' announcements).
    pub fn clear(&self) {
        let inner = &self.inner;
        let generation = inner.stats.generation.fetch_add(1, Ordering::AcqRel) + 1;
        // The highest, not the last: two clears at once may store out of order.
        inner.cleared_at_gen.fetch_max(generation, Ordering::AcqRel);
        for shard in &inner.shards {
            write(shard).clear();
        }
    }

    /// Drop `hash` from this replica's cache only.
    pub async fn forget(&self, hash: &str) {
        let inner = &self.inner;
        let generation = inner.stats.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(digest) = Digest::from_hex(hash).filter(|_| inner.enabled) else { return };
        inner.record_invalidation(digest, generation).await;
        inner.remove(digest);
    }

    /// Drop the expired entries of one shard (call periodically: each call
    /// takes the next shard).
    pub fn sweep_expired(&self) {
        let inner = &self.inner;
        if inner.enabled {
            let i = inner.next_sweep.fetch_add(1, Ordering::Relaxed) % SHARDS;
            let now = inner.now();
            write(&inner.shards[i]).retain(|_, e| e.expires_at > now);
        }
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.shards.iter().map(|s| read(s).len() as u64).sum()
    }

    pub fn stats(&self) -> &CacheStats {
        &self.inner.stats
    }
}

impl Inner {
    /// Remembers that `digest` was invalidated at `generation`, keeping the
    /// highest generation recorded: two invalidations of one hash at once (a
    /// write's own and the NOTIFY of an earlier one) may record out of order,
    /// and the older must not hide the newer from loads in flight.
    async fn record_invalidation(&self, digest: Digest, generation: u64) {
        self.recent
            .entry(digest)
            .and_upsert_with(|recorded| {
                std::future::ready(recorded.map_or(generation, |entry| (*entry.value()).max(generation)))
            })
            .await;
    }

    /// Ticks since the epoch, rounded down.
    fn now(&self) -> u32 {
        (self.epoch.elapsed().as_millis() / u128::from(TICK_MS)).min(u128::from(u32::MAX / 2)) as u32
    }

    fn remove(&self, digest: Digest) {
        write(&self.shards[digest.shard()]).remove(&digest);
    }

    fn insert(&self, digest: Digest, entry: Arc<Entry>) {
        let now = self.now();
        let mut map = write(&self.shards[digest.shard()]);
        if map.len() >= self.shard_capacity && !map.contains_key(&digest) {
            self.evict(&mut map, now);
        }
        map.insert(digest, entry);
    }

    /// Make room for about 1/8 of the shard: expired entries, then entries
    /// not hit since the last pass, then any.
    fn evict(&self, map: &mut Map, now: u32) {
        map.retain(|_, e| e.expires_at > now);
        let target = self.shard_capacity - self.shard_capacity / 8 - 1;
        if map.len() <= target {
            return;
        }
        let mut excess = map.len() - target;
        map.retain(|_, e| {
            if excess > 0 && !e.referenced.load(Ordering::Relaxed) {
                excess -= 1;
                return false;
            }
            e.referenced.store(false, Ordering::Relaxed);
            true
        });
        if excess > 0 {
            map.retain(|_, _| {
                if excess > 0 {
                    excess -= 1;
                    return false;
                }
                true
            });
        }
    }
}

/// Read `hash` from the database into an entry (interned when it is to be cached).
async fn load(inner: &Inner, hash: &str, loaded_at_gen: u64, cached: bool) -> Result<Arc<Entry>, sqlx::Error> {
    let record = inner.store.key_view_by_hash(hash).await?;
    // Uncached loads share the interners too: what they intern lives only as
    // long as the answer (the table drops unused values as it grows).
    let key = record.map(|record| CachedKey::decode(record, &inner.interners));
    let expires_at = if cached { inner.now().saturating_add(inner.ttl_ticks) } else { 0 };
    Ok(Arc::new(Entry { key, loaded_at_gen, expires_at, referenced: AtomicBool::new(false) }))
}

fn unshare(err: Arc<sqlx::Error>) -> sqlx::Error {
    Arc::try_unwrap(err).unwrap_or_else(|shared| match &*shared {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        other => sqlx::Error::Protocol(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    //! The cache over a real SQLite store in a temp dir. On SQLite the store
    //! answers key reads in place and counts them ([`Store::in_place_reads`]),
    //! which is how these tests see whether a lookup reached the database.

    use super::*;
    use crate::{
        bootstrap::bootstrap,
        domain::keys::KeyLifecycle,
        keyfmt,
        store::{self, EnvironmentRecord, now_ms},
    };
    use std::net::IpAddr;

    struct Fixture {
        store: Store,
        organization_id: OrgId,
        environment: EnvironmentRecord,
        _dir: tempfile::TempDir,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("cache.db").display());
            let store = Store::connect(&url, 4).await.expect("open store");
            let made = bootstrap(&store, "Cache tests").await.expect("bootstrap");
            let mut tx = store.begin().await.expect("begin");
            let environment = store::find_environment(&mut tx, &made.organization.id, "live")
                .await
                .expect("read environment")
                .expect("live environment");
            tx.commit().await.expect("commit");
            Fixture { store, organization_id: made.organization.id, environment, _dir: dir }
        }

        fn cache(&self, capacity: u64, ttl: Duration) -> KeyCache {
            KeyCache::new(self.store.clone(), capacity, ttl)
        }

        /// A minted key that is not in the database (yet).
        fn mint(&self) -> keyfmt::NewKey {
            keyfmt::generate("kw", &self.environment.name)
        }

        /// Stores `minted` as an active key; returns its id.
        async fn insert(&self, minted: &keyfmt::NewKey) -> KeyId {
            let record = KeyRecord::fresh(&self.organization_id, &self.environment, minted, now_ms());
            let mut tx = self.store.begin().await.expect("begin");
            store::insert_key(&mut tx, &record).await.expect("insert key");
            tx.commit().await.expect("commit");
            record.id
        }

        /// A new active key in the database; returns its hash.
        async fn new_key(&self) -> String {
            let minted = self.mint();
            self.insert(&minted).await;
            minted.hash
        }

        /// Revokes the key with `hash` behind the cache's back (plain SQL).
        async fn revoke(&self, hash: &str) {
            let done = sqlx::query("UPDATE api_keys SET revoked_at = $1, is_active = 0 WHERE key_hash = $2")
                .bind(now_ms())
                .bind(hash)
                .execute(self.store.pool())
                .await
                .expect("revoke");
            assert_eq!(done.rows_affected(), 1, "one key revoked");
        }

        /// Key reads that reached the database so far.
        fn db_reads(&self) -> u64 {
            let (reads, failures) = self.store.in_place_reads().expect("a SQLite file store reads in place");
            reads + failures
        }
    }

    fn hits(cache: &KeyCache) -> u64 {
        cache.stats().hits.load(Ordering::Relaxed)
    }

    fn misses(cache: &KeyCache) -> u64 {
        cache.stats().misses.load(Ordering::Relaxed)
    }

    /// Whether the cached answer for `hash` is a live (not revoked, active) key.
    async fn live(cache: &KeyCache, hash: &str) -> bool {
        let key = cache.lookup(hash).await.expect("lookup").expect("the key exists");
        key.record.revoked_at().is_none() && key.record.is_active()
    }

    /// A digest that lands in `shard`, distinct for each `n`.
    fn digest_in_shard(shard: usize, n: u64) -> [u8; 32] {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&n.to_le_bytes());
        d[8] = shard as u8;
        d[31] = 0xa5;
        d
    }

    fn shard_len(cache: &KeyCache, shard: usize) -> usize {
        read(&cache.inner.shards[shard]).len()
    }

    fn cached(cache: &KeyCache, digest: [u8; 32]) -> bool {
        read(&cache.inner.shards[Digest(digest).shard()]).contains_key(&Digest(digest))
    }

    // ------------------------------------------------------------ eviction

    #[tokio::test]
    async fn a_full_shard_evicts_and_the_cache_stays_within_its_slack() {
        let fx = Fixture::new().await;
        let capacity = 640;
        let cache = fx.cache(capacity, Duration::from_secs(60));
        let shard_capacity = cache.inner.shard_capacity;
        // Unknown hashes, spread over every shard like real digests: each is a
        // negative entry, as big a claim on capacity as a key.
        let lookups = 4 * capacity;
        for n in 0..lookups {
            let digest = keyfmt::key_digest(&format!("unknown key {n}"));
            assert!(cache.lookup_digest(digest).await.expect("lookup").is_none());
        }
        for shard in 0..SHARDS {
            let len = shard_len(&cache, shard);
            assert!(len <= shard_capacity, "shard {shard} holds {len} entries, more than its {shard_capacity}");
        }
        let count = cache.entry_count();
        assert!(
            count <= (SHARDS * shard_capacity) as u64,
            "{count} entries for a capacity of {capacity} (slack: {SHARDS} shards of {shard_capacity})"
        );
        assert!(count < lookups, "{count} of {lookups} entries kept: nothing was evicted");

        // One shard filled three times over never holds more than its capacity.
        for n in 0..3 * shard_capacity as u64 {
            cache.lookup_digest(digest_in_shard(7, n)).await.expect("lookup");
            let len = shard_len(&cache, 7);
            assert!(len <= shard_capacity, "shard 7 holds {len} entries, more than its {shard_capacity}");
        }
    }

    #[tokio::test]
    async fn eviction_gives_entries_hit_since_the_last_pass_a_second_chance() {
        let fx = Fixture::new().await;
        // About 150 entries a shard, so one eviction pass drops about 19.
        let cache = fx.cache(6400, Duration::from_secs(60));
        let shard_capacity = cache.inner.shard_capacity;
        let shard = 3;
        let digests: Vec<[u8; 32]> = (0..shard_capacity as u64).map(|n| digest_in_shard(shard, n)).collect();
        for &d in &digests {
            assert!(cache.lookup_digest(d).await.expect("lookup").is_none());
        }
        assert_eq!(shard_len(&cache, shard), shard_capacity, "the shard is exactly full");
        // Hit every other entry: half the shard is referenced, far more than
        // one pass needs to keep.
        let before = hits(&cache);
        for d in digests.iter().step_by(2) {
            cache.lookup_digest(*d).await.expect("lookup");
        }
        let referenced = digests.len().div_ceil(2) as u64;
        assert_eq!(hits(&cache) - before, referenced, "the second lookups were hits");

        // One more entry overflows the shard: an eviction pass.
        let newcomer = digest_in_shard(shard, 1_000_000);
        cache.lookup_digest(newcomer).await.expect("lookup");
        let len = shard_len(&cache, shard);
        assert!(len < shard_capacity, "the pass made room ({len} of {shard_capacity})");
        assert!(cached(&cache, newcomer), "the entry that caused the pass is cached");
        let evicted_hit: Vec<usize> = (0..digests.len()).step_by(2).filter(|&i| !cached(&cache, digests[i])).collect();
        assert!(evicted_hit.is_empty(), "entries hit since the last pass were evicted: {evicted_hit:?}");
        let evicted_cold = (1..digests.len()).step_by(2).filter(|&i| !cached(&cache, digests[i])).count();
        assert_eq!(evicted_cold, shard_capacity + 1 - len, "every evicted entry was one not hit");
    }

    // ------------------------------------------------------------ negative entries

    #[tokio::test]
    async fn an_unknown_hash_is_cached_as_absent_until_invalidated() {
        let fx = Fixture::new().await;
        let cache = fx.cache(1000, Duration::from_secs(60));
        let minted = fx.mint();
        let reads = fx.db_reads();

        assert!(cache.lookup(&minted.hash).await.expect("lookup").is_none(), "unknown hash");
        assert_eq!((hits(&cache), misses(&cache)), (0, 1));
        assert_eq!(fx.db_reads(), reads + 1, "the first lookup read the database");

        assert!(cache.lookup(&minted.hash).await.expect("lookup").is_none());
        assert_eq!((hits(&cache), misses(&cache)), (1, 1), "the second lookup was a hit");
        assert_eq!(fx.db_reads(), reads + 1, "the second lookup did not read the database");

        // The key appears behind the cache's back: the negative entry still answers.
        let id = fx.insert(&minted).await;
        assert!(cache.lookup(&minted.hash).await.expect("lookup").is_none(), "negative entry served");
        assert_eq!(fx.db_reads(), reads + 1);

        cache.invalidate(&minted.hash).await;
        let found = cache.lookup(&minted.hash).await.expect("lookup").expect("found after invalidate");
        assert_eq!(found.record.id, id);
        assert_eq!(fx.db_reads(), reads + 2);
    }

    // ------------------------------------------------------------ invalidation

    #[tokio::test]
    async fn invalidate_and_clear_make_the_next_lookup_see_the_database() {
        let fx = Fixture::new().await;
        let cache = fx.cache(1000, Duration::from_secs(60));

        let hash = fx.new_key().await;
        assert!(live(&cache, &hash).await);
        fx.revoke(&hash).await;
        assert!(live(&cache, &hash).await, "until invalidated, the cached row answers");
        cache.invalidate(&hash).await;
        assert!(!live(&cache, &hash).await, "after invalidate, the revocation is seen");

        let hash = fx.new_key().await;
        assert!(live(&cache, &hash).await);
        fx.revoke(&hash).await;
        cache.clear();
        assert_eq!(cache.entry_count(), 0);
        assert!(!live(&cache, &hash).await, "after clear, the revocation is seen");
    }

    /// What [`KeyCache::load_shared`] does, split where a write can land: the
    /// read (at the generation current when it starts), then its insert.
    async fn start_load(cache: &KeyCache, hash: &str) -> Arc<Entry> {
        let generation = cache.inner.stats.generation.load(Ordering::Acquire);
        load(&cache.inner, hash, generation, true).await.expect("load")
    }

    fn finish_load(cache: &KeyCache, hash: &str, entry: Arc<Entry>) {
        cache.inner.insert(Digest::from_hex(hash).expect("hex digest"), entry);
    }

    #[tokio::test]
    async fn a_load_that_read_before_an_invalidate_is_never_served_after_it() {
        let fx = Fixture::new().await;
        let cache = fx.cache(1000, Duration::from_secs(60));

        // invalidate: the load reads the live row, the revocation commits and
        // is invalidated, then the load stores what it read.
        let hash = fx.new_key().await;
        let stale = start_load(&cache, &hash).await;
        fx.revoke(&hash).await;
        cache.invalidate(&hash).await;
        finish_load(&cache, &hash, stale);
        assert!(!live(&cache, &hash).await, "the load begun before invalidate was served");
        assert!(!live(&cache, &hash).await, "and its reload stays cached");

        // An invalidation of another hash does not make this one's entry stale.
        let other = fx.new_key().await;
        let reads = fx.db_reads();
        cache.invalidate(&other).await;
        assert!(!live(&cache, &hash).await);
        assert_eq!(fx.db_reads(), reads, "an unrelated invalidation forced a reload");

        // clear: the same race against dropping everything.
        let hash = fx.new_key().await;
        let stale = start_load(&cache, &hash).await;
        fx.revoke(&hash).await;
        cache.clear();
        finish_load(&cache, &hash, stale);
        assert!(!live(&cache, &hash).await, "the load begun before clear was served");

        // A negative entry read before the key was inserted is just as stale.
        let minted = fx.mint();
        let stale = start_load(&cache, &minted.hash).await;
        fx.insert(&minted).await;
        cache.invalidate(&minted.hash).await;
        finish_load(&cache, &minted.hash, stale);
        assert!(cache.lookup(&minted.hash).await.expect("lookup").is_some(), "a stale negative entry was served");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_lookups_see_a_revocation_once_it_is_invalidated() {
        let fx = Fixture::new().await;
        let cache = fx.cache(1000, Duration::from_secs(60));
        for round in 0..20 {
            let hash = fx.new_key().await;
            assert!(live(&cache, &hash).await);
            let revoked = Arc::new(AtomicBool::new(false));
            // One task drops everything over and over, so the readers keep
            // loading the row while it is revoked (one clearer only: clears
            // are not meant to race each other).
            let churn = {
                let (cache, revoked) = (cache.clone(), revoked.clone());
                tokio::spawn(async move {
                    let mut after = 0;
                    while after < 200 {
                        after += u32::from(revoked.load(Ordering::Acquire));
                        cache.clear();
                        tokio::task::yield_now().await;
                    }
                })
            };
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let (cache, hash, revoked) = (cache.clone(), hash.clone(), revoked.clone());
                    tokio::spawn(async move {
                        // Until the revocation is announced, then a bounded
                        // number of times more: every lookup begun after it
                        // must see it.
                        let mut after = 0;
                        for _ in 0..1_000_000u32 {
                            let announced = revoked.load(Ordering::Acquire);
                            let is_live = live(&cache, &hash).await;
                            if announced {
                                assert!(!is_live, "a lookup begun after the invalidation saw the key live");
                                after += 1;
                                if after == 200 {
                                    return;
                                }
                            }
                            tokio::task::yield_now().await;
                        }
                        panic!("the revocation was never announced");
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_millis(2)).await;
            fx.revoke(&hash).await;
            cache.invalidate(&hash).await;
            revoked.store(true, Ordering::Release);
            for reader in readers {
                reader.await.unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
            churn.await.expect("churn task");
            assert!(!live(&cache, &hash).await, "round {round}: the key is still live");
        }
    }

    /// Two invalidations of one hash at once (a write's own, and the `NOTIFY`
    /// of an earlier write coming back through [`crate::cache::sync`], say):
    /// [`KeyCache::forget`] takes its generation, then records it in `recent`
    /// after an await. If the older one records last, it overwrites the newer
    /// generation, and a load that began between the two generations (so
    /// before the newer write) is served as fresh.
    #[tokio::test]
    async fn an_older_invalidation_recorded_late_does_not_hide_a_newer_one() {
        let fx = Fixture::new().await;
        let cache = fx.cache(1000, Duration::from_secs(60));
        let hash = fx.new_key().await;
        let digest = Digest::from_hex(&hash).expect("hex digest");
        // Invalidation A (of an earlier write) takes its generation, then is held up.
        let generation_a = cache.inner.stats.generation.fetch_add(1, Ordering::AcqRel) + 1;
        // A load starts: it reads the row before the revocation commits.
        let stale = start_load(&cache, &hash).await;
        fx.revoke(&hash).await;
        // The revocation's own invalidation runs to the end.
        cache.invalidate(&hash).await;
        // Invalidation A resumes and records its (older) generation.
        cache.inner.record_invalidation(digest, generation_a).await;
        cache.inner.remove(digest);
        // The load finishes.
        finish_load(&cache, &hash, stale);
        assert!(!live(&cache, &hash).await, "the load begun before the revocation was served after its invalidation");
    }

    // ------------------------------------------------------------ TTL

    #[tokio::test]
    async fn entries_older_than_the_ttl_are_reloaded_and_swept() {
        let fx = Fixture::new().await;
        let cache = fx.cache(1000, Duration::from_millis(50));
        let hash = fx.new_key().await;
        let minted = fx.mint();
        assert!(live(&cache, &hash).await);
        assert!(cache.lookup(&minted.hash).await.expect("lookup").is_none());
        assert_eq!(cache.entry_count(), 2);

        // Changes behind the cache's back, no invalidation.
        fx.revoke(&hash).await;
        fx.insert(&minted).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!live(&cache, &hash).await, "the revocation is seen once the TTL has passed");
        assert!(cache.lookup(&minted.hash).await.expect("lookup").is_some(), "the new key is seen too");

        // Past the TTL again, a sweep of every shard drops both entries.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(cache.entry_count(), 2, "nothing swept yet");
        for _ in 0..SHARDS {
            cache.sweep_expired();
        }
        assert_eq!(cache.entry_count(), 0, "expired entries swept");
    }

    // ------------------------------------------------------------ ip_allowed

    fn key_with_ips(rules: &[&str]) -> CachedKey {
        CachedKey::new(KeyRecord { allowed_ips: serde_json::to_string(rules).expect("JSON"), ..KeyRecord::default() })
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("an IP address"))
    }

    #[test]
    fn ip_allowed_checks_the_rules_and_refuses_an_unknown_address_when_restricted() {
        let open = key_with_ips(&[]);
        assert!(!open.ip_restricted);
        for addr in [ip("203.0.113.9"), ip("::1"), None] {
            assert!(open.ip_allowed(addr), "an empty list allows {addr:?}");
        }

        let restricted = key_with_ips(&["10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32"]);
        assert!(restricted.ip_restricted);
        for allowed in ["10.0.0.1", "10.255.255.255", "192.0.2.7", "2001:db8::1", "2001:db8:ffff::2"] {
            assert!(restricted.ip_allowed(ip(allowed)), "{allowed} is inside a rule");
        }
        for refused in ["11.0.0.1", "9.255.255.255", "192.0.2.8", "2001:db9::1", "::1"] {
            assert!(!restricted.ip_allowed(ip(refused)), "{refused} is outside every rule");
        }
        assert!(!restricted.ip_allowed(None), "no address, and the key is restricted");

        let unparseable = key_with_ips(&["not an address"]);
        assert!(unparseable.ip_restricted);
        assert!(!unparseable.ip_allowed(ip("10.0.0.1")), "a key whose rules are all unparseable allows nobody");
        assert!(!unparseable.ip_allowed(None));
    }
}
