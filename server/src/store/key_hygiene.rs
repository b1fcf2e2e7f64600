//! Key hygiene's once-only claims: due rotations, expiry and rotation
//! warnings, usage-exceeded announcements, leak marks. Every claim is a
//! conditional UPDATE whose `rows_affected` says who won, so several server
//! processes on one database never rotate or announce the same thing twice.

use super::*;
use sqlx::{AnyPool, AssertSqlSafe};

/// Ids of keys whose scheduled rotation is due.
pub async fn keys_due_for_rotation(pool: &AnyPool, now: i64, limit: i64) -> sqlx::Result<Vec<(OrgId, KeyId)>> {
    sqlx::query_as(
        "SELECT organization_id, id FROM api_keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= $1 \
         AND revoked_at IS NULL AND replaced_by_key_id IS NULL ORDER BY next_rotation_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Which once-only warning a scheduler pass looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// `api_key.expiring`, before `expires_at`.
    Expiring,
    /// `api_key.rotation_due`, before `next_rotation_at`.
    RotationDue,
}

impl Warning {
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Warning::Expiring => ("expires_at", "expiry_warned_at"),
            Warning::RotationDue => ("next_rotation_at", "rotation_due_warned_at"),
        }
    }
}

/// Live keys whose warning window (the project's `expiry_warning_days`,
/// default `default_days`) has begun and that were not warned yet.
pub async fn keys_to_warn(
    pool: &AnyPool,
    warning: Warning,
    now: i64,
    default_days: i64,
    limit: i64,
) -> sqlx::Result<Vec<(OrgId, KeyId)>> {
    let (at, warned) = warning.columns();
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT k.organization_id, k.id FROM api_keys k LEFT JOIN projects p ON p.id = k.project_id \
         WHERE k.{at} IS NOT NULL AND k.{at} > $1 AND k.{warned} IS NULL AND k.revoked_at IS NULL \
         AND k.replaced_by_key_id IS NULL \
         AND k.{at} - $1 <= COALESCE(p.expiry_warning_days, $2) * 86400000 ORDER BY k.{at} LIMIT $3"
    )))
    .bind(now)
    .bind(default_days)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Marks the warning sent; false when another process already did.
pub async fn claim_warning(conn: &mut Conn, warning: Warning, key_id: &KeyId, now: i64) -> sqlx::Result<bool> {
    let (_, warned) = warning.columns();
    let done =
        sqlx::query(AssertSqlSafe(format!("UPDATE api_keys SET {warned} = $2 WHERE id = $1 AND {warned} IS NULL")))
            .bind(key_id)
            .bind(now)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Clears a warning marker when the date it warned about moves.
pub async fn reset_warning(conn: &mut Conn, warning: Warning, key_id: &KeyId) -> sqlx::Result<()> {
    let (_, warned) = warning.columns();
    sqlx::query(AssertSqlSafe(format!("UPDATE api_keys SET {warned} = NULL WHERE id = $1")))
        .bind(key_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// First quota rejection since the last refill (or ever): announce it once.
pub async fn claim_usage_exceeded(conn: &mut Conn, key_id: &KeyId, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET usage_exceeded_notified_at = $2 WHERE id = $1 AND (usage_exceeded_notified_at IS NULL \
         OR (usage_refilled_at IS NOT NULL AND usage_exceeded_notified_at < usage_refilled_at))",
    )
    .bind(key_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_leaked(conn: &mut Conn, key_id: &KeyId, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE api_keys SET leaked_at = $2, updated_at = CASE WHEN updated_at >= $2 THEN updated_at + 1 ELSE $2 END WHERE id = $1")
        .bind(key_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}
