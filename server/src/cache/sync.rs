//! Key cache invalidation across replicas sharing a Postgres database
//! (`docs/architecture.md#the-verify-path`).
//!
//! A write to a key drops it from the cache of the replica that served the
//! write before answering ([`crate::cache::KeyCache::invalidate`]), then
//! announces the key's hash with `NOTIFY`; every replica follows the channel
//! and drops the hash too. When the following connection is lost,
//! announcements may have been missed, so the whole cache is dropped once it
//! is back. The positive-entry TTL stays as the bound for the rare
//! announcement lost on the sending side (a crash between commit and
//! `NOTIFY`).
//!
//! SQLite has no such channel: several processes on one SQLite file rely on
//! the TTL alone.

use crate::{cache::KeyCache, jobs::BackgroundTask, store::Store};
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The `NOTIFY` channel; payloads are key hashes (hex SHA-256).
pub const CHANNEL: &str = "keyward_key_changes";

/// Tell the other replicas that the key with `hash` changed.
pub async fn announce(store: &Store, hash: &str) -> Result<(), sqlx::Error> {
    crate::store::notify(store.pool(), CHANNEL, hash).await
}

/// Follow the other replicas' announcements until stopped (Postgres only).
pub fn follow(keys: KeyCache, database_url: String) -> BackgroundTask {
    BackgroundTask::run_until_stopped(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            match listen(&database_url).await {
                Ok(mut listener) => {
                    // Changes made while nobody listened may be cached here.
                    keys.clear();
                    backoff = Duration::from_millis(100);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(notification)) => keys.forget(notification.payload()).await,
                            // The connection dropped and sqlx listened again:
                            // whatever was announced in between is lost.
                            Ok(None) => {
                                tracing::warn!("lost the key-change channel; cache dropped");
                                keys.clear();
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "following key changes failed; reconnecting");
                                break;
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "cannot follow key changes of other replicas")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    })
}

async fn listen(database_url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
