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

use crate::{
    domain::network::parse_ip_rule,
    store::{KeyRecord, Store},
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

/// A string many cached keys share (organization id, project id, environment
/// name), interned. Compares equal to the `String`s and `str`s it holds.
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

impl PartialEq<String> for IStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<str> for IStr {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for IStr {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

/// A key id, inline when it is a UUID-sized string (it always is for keys
/// keyward minted), so a cached key needs no allocation for it.
#[derive(Clone)]
pub enum KeyId {
    Inline { len: u8, bytes: [u8; 36] },
    Heap(Box<str>),
}

impl KeyId {
    fn new(id: String) -> Self {
        if id.len() <= 36 {
            let mut bytes = [0u8; 36];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            KeyId::Inline { len: id.len() as u8, bytes }
        } else {
            KeyId::Heap(id.into_boxed_str())
        }
    }
}

impl Deref for KeyId {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            // Copied from a `String`, so always UTF-8.
            KeyId::Inline { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default(),
            KeyId::Heap(s) => s,
        }
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

/// The fields of a [`KeyRecord`] that verify and caller authentication read,
/// under the same names.
#[derive(Debug)]
pub struct KeyView {
    pub id: KeyId,
    pub organization_id: IStr,
    pub project_id: Option<IStr>,
    pub environment: IStr,
    pub name: Box<str>,
    /// `expires_at`, `revoked_at` (i64::MAX for none) and `is_active`, packed
    /// (read through [`crate::auth::KeyLifecycle`]).
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
        let id = uuid::Uuid::parse_str(&record.id).map(|u| u.as_u128()).unwrap_or_default();
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
            organization_id: text(&record.organization_id),
            project_id: record.project_id.as_deref().map(text),
            environment: text(&record.environment),
            id: KeyId::new(record.id),
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

impl crate::auth::KeyLifecycle for KeyView {
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
    /// `NOTIFY` they follow with [`crate::cache_sync`]); call after the write
    /// commits and before answering.
    pub async fn invalidate(&self, hash: &str) {
        self.forget(hash).await;
        if self.inner.store.backend() == crate::store::Backend::Postgres
            && let Err(err) = crate::cache_sync::announce(&self.inner.store, hash).await
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
        inner.cleared_at_gen.store(generation, Ordering::Release);
        for shard in &inner.shards {
            write(shard).clear();
        }
    }

    /// Drop `hash` from this replica's cache only.
    pub async fn forget(&self, hash: &str) {
        let inner = &self.inner;
        let generation = inner.stats.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let Some(digest) = Digest::from_hex(hash).filter(|_| inner.enabled) else { return };
        inner.recent.insert(digest, generation).await;
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
