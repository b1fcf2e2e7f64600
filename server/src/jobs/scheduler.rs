//! The key-hygiene scheduler: every `scheduler_interval` it rotates keys
//! whose `next_rotation_at` has come and announces `api_key.expiring` /
//! `api_key.rotation_due` once, the project's `expiry_warning_days` (default
//! 7) before the date.
//!
//! Several server processes may run it against one database. Each rotation
//! is claimed by the conditional UPDATE that marks the old key replaced
//! (`… WHERE revoked_at IS NULL AND replaced_by_key_id IS NULL`) in the same
//! transaction that inserts the new key and the outbox row: the loser's
//! UPDATE matches no row (Postgres re-checks the WHERE after the winner
//! commits; SQLite serializes writers), so it rolls back and writes nothing.
//! Warnings are claimed the same way on their `*_warned_at` marker.
//!
//! Finished webhook deliveries are purged by [`crate::jobs::housekeeping`].
//!
//! A scheduled rotation never sends the new plaintext anywhere: the
//! `api_key.rotated` event names the new key's id, and its owner obtains a
//! secret for it with `POST /v1/api-keys/{new id}/regenerate` while the old
//! key keeps verifying through the grace period (the project's default, or
//! `scheduled_rotation_grace` — never zero by default, since nobody holds the
//! new key's secret yet).

use crate::{
    app::AppState,
    app::keys::{ChangedBy, record_change, rotate_record},
    error::ApiError,
    jobs::BackgroundTask,
    store::{self, Warning},
    webhooks::WebhookEventType,
};
use serde_json::json;

pub use crate::domain::projects::DEFAULT_WARNING_DAYS;
/// Keys handled per kind per pass; the next pass takes the rest.
const BATCH: i64 = 200;
/// Finished webhook deliveries (and their events) are kept this long.
pub use crate::jobs::housekeeping::WEBHOOK_HISTORY_DAYS;

pub fn spawn(state: AppState) -> BackgroundTask {
    BackgroundTask::spawn("scheduler", state.config.scheduler_interval, state, |state: AppState| async move {
        run_pass(&state).await
    })
}

/// One pass: due rotations, then both kinds of warning.
pub async fn run_pass(state: &AppState) -> anyhow::Result<()> {
    rotate_due(state).await?;
    warn(state, Warning::Expiring).await?;
    warn(state, Warning::RotationDue).await?;
    Ok(())
}

async fn rotate_due(state: &AppState) -> anyhow::Result<()> {
    let fallback_grace = state.config.scheduled_rotation_grace.as_secs() as i64;
    for (org_id, key_id) in store::keys_due_for_rotation(state.store.pool(), state.config.clock.now_ms(), BATCH).await?
    {
        let mut conn = state.store.pool().acquire().await?;
        let Some(old) = store::get_key(&mut conn, &org_id, &key_id).await? else { continue };
        drop(conn);
        let by = ChangedBy::System { organization_id: org_id, actor_id: "scheduler" };
        match rotate_record(state, by, &old, None, fallback_grace).await {
            Ok(rotated) => tracing::info!(old_key_id = %key_id, new_key_id = %rotated.new.id, "scheduled rotation"),
            // Another process rotated it (or it was revoked) since we listed it.
            Err(ApiError::Conflict(_)) => {}
            Err(err) => tracing::warn!(key_id = %key_id, error = %err, "scheduled rotation failed; retried next pass"),
        }
    }
    Ok(())
}

async fn warn(state: &AppState, warning: Warning) -> anyhow::Result<()> {
    let (event, action) = match warning {
        Warning::Expiring => (WebhookEventType::ApiKeyExpiring, "expires_at"),
        Warning::RotationDue => (WebhookEventType::ApiKeyRotationDue, "next_rotation_at"),
    };
    let now = state.config.clock.now_ms();
    for (org_id, key_id) in store::keys_to_warn(state.store.pool(), warning, now, DEFAULT_WARNING_DAYS, BATCH).await? {
        let mut tx = state.store.begin().await?;
        if !store::claim_warning(&mut tx, warning, &key_id, now).await? {
            continue;
        }
        let Some(key) = store::get_key(&mut tx, &org_id, &key_id).await? else { continue };
        let at = match warning {
            Warning::Expiring => key.expires_at,
            Warning::RotationDue => key.next_rotation_at,
        }
        .unwrap_or(now);
        let details = json!({ action: crate::domain::time::ms_to_time(at), "seconds_left": (at - now) / 1000 });
        let by = ChangedBy::System { organization_id: org_id, actor_id: "scheduler" };
        record_change(&mut tx, by, event, &key, details.clone(), details).await?;
        tx.commit().await?;
        tracing::info!(key_id = %key.id, event = event.as_str(), "key warning queued");
    }
    Ok(())
}
