//! Retention: one job on the background-jobs replica that deletes what is
//! kept no longer — idempotency records after 24 h, finished webhook
//! deliveries (and their events) after [`WEBHOOK_HISTORY_DAYS`], hourly usage
//! counters after `usage_retention_days` (default 400) and audit events after
//! `audit_retention_days` (default: kept for ever).
//!
//! Every delete is bounded: `DELETE … WHERE <key> IN (SELECT <key> … LIMIT
//! 1000)` over an index on the time column (migration 0004), repeated up to
//! [`MAX_BATCHES`] times per table per pass; the next pass takes the rest. So
//! no pass holds a long write lock (SQLite) or builds a huge transaction
//! (Postgres). Several processes may run it at once: deletes of old rows
//! commute.

use crate::{app::AppState, jobs::BackgroundTask, store};
use sqlx::AnyPool;
use std::time::Duration;

/// Rows deleted per statement.
pub const BATCH: i64 = 1000;
/// Statements per table per pass.
pub const MAX_BATCHES: usize = 20;
/// Finished webhook deliveries (and their events) are kept this long.
pub const WEBHOOK_HISTORY_DAYS: i64 = 30;
/// Idempotency records replay for this long.
pub const IDEMPOTENCY_RETENTION_MS: i64 = 24 * 3600 * 1000;
/// Time between passes.
const INTERVAL: Duration = Duration::from_secs(600);
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

pub fn spawn(state: AppState) -> BackgroundTask {
    BackgroundTask::spawn("housekeeping", INTERVAL, state, |state: AppState| async move {
        run_pass(&state).await.map(|_| ())
    })
}

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub idempotency_records: u64,
    pub webhook_history: u64,
    pub usage_counters: u64,
    pub audit_events: u64,
}

/// One pass of every purge, as of now.
pub async fn run_pass(state: &AppState) -> anyhow::Result<Purged> {
    run_pass_at(state.store.pool(), &state.config, state.config.clock.now_ms()).await
}

/// One pass of every purge, as if it were `now`.
pub async fn run_pass_at(pool: &AnyPool, config: &crate::Config, now: i64) -> anyhow::Result<Purged> {
    let mut purged = Purged {
        idempotency_records: batched(|| {
            store::delete_old_idempotency_records(pool, now - IDEMPOTENCY_RETENTION_MS, BATCH)
        })
        .await?,
        webhook_history: batched(|| store::purge_webhook_history(pool, now - WEBHOOK_HISTORY_DAYS * DAY_MS, BATCH))
            .await?,
        ..Purged::default()
    };
    if let Some(days) = config.usage_retention_days {
        // Whole hours only: a counter's hour must have ended before the cut.
        let before = now - days as i64 * DAY_MS - HOUR_MS;
        purged.usage_counters = batched(|| store::delete_old_usage_counters(pool, before, BATCH)).await?;
    }
    if let Some(days) = config.audit_retention_days {
        purged.audit_events =
            batched(|| store::delete_old_audit_events(pool, now - days as i64 * DAY_MS, BATCH)).await?;
    }
    if purged != Purged::default() {
        tracing::info!(?purged, "housekeeping: purged expired rows");
    }
    Ok(purged)
}

/// Runs `batch` until it deletes less than a full batch, or [`MAX_BATCHES`] times.
async fn batched<F, Fut>(mut batch: F) -> anyhow::Result<u64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<u64>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let n = batch().await?;
        total += n;
        if n < BATCH as u64 {
            break;
        }
    }
    Ok(total)
}
