//! Follows the other replicas' key-change announcements on Postgres
//! ([`crate::cache::sync`]) and drops each announced hash from this process's
//! cache. When the connection is lost, announcements may have been missed, so
//! the whole cache is dropped once it is back
//! (`docs/architecture.md#the-verify-path`).

use crate::{cache::KeyCache, cache::sync::CHANNEL, jobs::BackgroundTask};
use sqlx::postgres::PgListener;
use std::time::Duration;

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
