//! The usage write-behind: every `usage_flush_interval`, the counts verify
//! kept in memory ([`crate::usage::UsageRecorder`]) go to the store, spread
//! over half an interval so one large batch does not stall requests; idle
//! rate-limit buckets and expired cache entries are swept on the same beat.
//! Stopping flushes once more, so a graceful shutdown loses no count
//! (`docs/architecture.md#the-verify-path`).

use crate::{app::AppState, jobs::BackgroundTask};
use std::time::Duration;

/// The running write-behind; [`UsageFlush::stop`] flushes one last time.
pub struct UsageFlush {
    task: BackgroundTask,
    state: AppState,
}

pub fn spawn(state: AppState) -> UsageFlush {
    let every = state.config.usage_flush_interval.max(Duration::from_millis(10));
    let task = BackgroundTask::spawn("usage flush", every, state.clone(), move |state: AppState| async move {
        state.usage.flush_spread(&state.store, every / 2).await?;
        let now = state.config.clock.now_ms();
        state.limiter.sweep(now);
        state.auth_failures.sweep(now);
        state.keys.sweep_expired();
        Ok(())
    });
    UsageFlush { task, state }
}

impl UsageFlush {
    /// Stop the task (letting a flush in progress finish), then flush what is left.
    pub async fn stop(self) {
        self.task.stop().await;
        if let Err(err) = self.state.usage.flush(&self.state.store).await {
            tracing::warn!(error = %err, "final usage flush failed");
        }
    }
}
