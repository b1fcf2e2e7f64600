//! Periodic background work (the rotation scheduler, webhook delivery): a
//! task that runs one pass per interval until stopped, logging a failed pass
//! and carrying on. The work itself is safe to run in several processes at
//! once: every pass claims rows with conditional UPDATEs.

use std::{future::Future, time::Duration};
use tokio::{sync::oneshot, task::JoinHandle};

pub struct BackgroundTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl BackgroundTask {
    pub fn spawn<S, F, Fut>(name: &'static str, every: Duration, state: S, pass: F) -> BackgroundTask
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut stopped => break,
                }
                if let Err(err) = pass(state.clone()).await {
                    tracing::warn!(task = name, error = %err, "background pass failed; retrying next interval");
                }
            }
        });
        BackgroundTask { stop, task }
    }

    /// Run `work` (a long-lived loop, not a periodic pass) until stopped.
    pub fn run_until_stopped(work: impl Future<Output = ()> + Send + 'static) -> BackgroundTask {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = work => {}
                _ = stopped => {}
            }
        });
        BackgroundTask { stop, task }
    }

    /// Stops after the pass in progress, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
