//! Retention deletes: bounded batches over the time indexes of migration
//! 0004, oldest first (`crate::jobs::housekeeping` decides when and how many).

use sqlx::AnyPool;

/// Deletes up to `limit` rows of `table` whose `time` is before `before`, oldest first, by `key`.
async fn delete_batch(
    pool: &AnyPool,
    table: &str,
    key: &str,
    time: &str,
    before: i64,
    limit: i64,
) -> sqlx::Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {time} < $1 ORDER BY {time} LIMIT $2)"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before).bind(limit).execute(pool).await?.rows_affected())
}

pub async fn delete_old_idempotency_records(pool: &AnyPool, before: i64, limit: i64) -> sqlx::Result<u64> {
    delete_batch(pool, "idempotency_records", "scope_hash", "created_at", before, limit).await
}

pub async fn delete_old_audit_events(pool: &AnyPool, before: i64, limit: i64) -> sqlx::Result<u64> {
    delete_batch(pool, "audit_events", "id", "created_at", before, limit).await
}

/// `usage_counters` has a composite key (and no rowid on SQLite): delete by row value.
pub async fn delete_old_usage_counters(pool: &AnyPool, before: i64, limit: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM usage_counters WHERE (key_id, hour_start, code) IN \
         (SELECT key_id, hour_start, code FROM usage_counters WHERE hour_start < $1 ORDER BY hour_start LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
