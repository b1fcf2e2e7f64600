//! Key cache invalidation across replicas sharing a Postgres database
//! (`docs/architecture.md#the-verify-path`).
//!
//! A write to a key drops it from the cache of the replica that served the
//! write before answering ([`crate::cache::KeyCache::invalidate`]), then
//! announces the key's hash with `NOTIFY`; every replica follows the channel
//! ([`crate::jobs::cache_follow`]) and drops the hash too. When the following connection is lost,
//! announcements may have been missed, so the whole cache is dropped once it
//! is back. The positive-entry TTL stays as the bound for the rare
//! announcement lost on the sending side (a crash between commit and
//! `NOTIFY`).
//!
//! SQLite has no such channel: several processes on one SQLite file rely on
//! the TTL alone.

use crate::store::Store;

/// The `NOTIFY` channel; payloads are key hashes (hex SHA-256).
pub const CHANNEL: &str = "keyward_key_changes";

/// Tell the other replicas that the key with `hash` changed.
pub async fn announce(store: &Store, hash: &str) -> Result<(), sqlx::Error> {
    crate::store::notify(store.pool(), CHANNEL, hash).await
}
