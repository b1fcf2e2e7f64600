//! Usage: quota spending (one conditional atomic UPDATE) and the write-behind
//! upserts of `key_usage` and `usage_counters` (`crate::usage` decides when).

use super::{Backend, KeyId, Store};
use crate::domain::verify::VerifyCode;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::fmt::Write as _;

/// `usage_remaining` after applying a due refill, as a SQL expression.
const EFFECTIVE_REMAINING: &str = "(CASE WHEN usage_refill_interval_ms IS NOT NULL AND usage_refill_amount IS NOT NULL \
     AND usage_refilled_at IS NOT NULL AND $3 - usage_refilled_at >= usage_refill_interval_ms \
     THEN usage_refill_amount ELSE usage_remaining END)";

/// The outcome of spending quota credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Spent; credits left.
    Spent(i64),
    /// Not enough credits; credits left (after any due refill).
    Exceeded(i64),
    /// The key has no quota (any more).
    NoQuota,
}

/// Spend `cost` credits of key `id` if it has them: one conditional atomic
/// decrement (`… WHERE usage_remaining >= cost RETURNING …`), with a due refill
/// (reset to `usage_refill.amount` every interval, aligned to the last refill)
/// applied by the same statement.
pub async fn spend_quota(pool: &AnyPool, id: &KeyId, cost: i64, now: i64) -> sqlx::Result<Spend> {
    let sql = format!(
        "UPDATE api_keys SET usage_remaining = {EFFECTIVE_REMAINING} - $2, \
         usage_refilled_at = CASE WHEN usage_refill_interval_ms IS NOT NULL AND usage_refill_amount IS NOT NULL \
            AND usage_refilled_at IS NOT NULL AND $3 - usage_refilled_at >= usage_refill_interval_ms \
            THEN usage_refilled_at + (($3 - usage_refilled_at) / usage_refill_interval_ms) * usage_refill_interval_ms \
            ELSE usage_refilled_at END \
         WHERE id = $1 AND usage_remaining IS NOT NULL AND {EFFECTIVE_REMAINING} >= $2 \
         RETURNING usage_remaining"
    );
    if let Some(row) = sqlx::query(AssertSqlSafe(sql)).bind(id).bind(cost).bind(now).fetch_optional(pool).await? {
        return Ok(Spend::Spent(row.try_get::<i64, _>(0)?));
    }
    let sql = format!("SELECT {EFFECTIVE_REMAINING} AS r, $2 AS unused FROM api_keys WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(id).bind(cost).bind(now).fetch_optional(pool).await?;
    Ok(match row.map(|r| r.try_get::<Option<i64>, _>(0)).transpose()?.flatten() {
        Some(left) => Spend::Exceeded(left.max(0)),
        None => Spend::NoQuota,
    })
}

/// One key's use counted in memory since the last flush.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyUse {
    /// Verifications of this key since the last flush.
    pub count: i64,
    /// Latest VALID verification (or API call made with the key); 0 for none.
    pub last_used_at: i64,
}

// Each statement binds one JSON array of rows (SQLite `json_each`, Postgres
// `json_array_elements`): thousands of rows, one bind parameter (sqlx and
// SQLite resolve bind parameters by name, at O(binds²) per statement).

/// `[[id, hour, "CODE", n], …]`
fn counters_json(rows: &[((u128, i64, VerifyCode), i64)]) -> String {
    let mut out = String::with_capacity(rows.len() * 72 + 2);
    out.push('[');
    for (i, ((id, hour, code), n)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[\"{}\",{hour},\"{}\",{n}]", uuid::Uuid::from_u128(*id).hyphenated(), code.as_str());
    }
    out.push(']');
    out
}

/// `[[id, count, last_used_at], …]`
fn keys_json(rows: &[(u128, KeyUse)]) -> String {
    let mut out = String::with_capacity(rows.len() * 64 + 2);
    out.push('[');
    for (i, (id, u)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "[\"{}\",{},{}]", uuid::Uuid::from_u128(*id).hyphenated(), u.count, u.last_used_at);
    }
    out.push(']');
    out
}

const COUNTERS_UPSERT: &str =
    "ON CONFLICT (key_id, hour_start, code) DO UPDATE SET count = usage_counters.count + excluded.count";

/// A `last_used_at` of 0 means none in this batch.
const KEYS_UPSERT: &str = "ON CONFLICT (key_id) DO UPDATE SET usage_count = key_usage.usage_count + excluded.usage_count, \
    last_used_at = CASE WHEN excluded.last_used_at IS NOT NULL \
       AND (key_usage.last_used_at IS NULL OR excluded.last_used_at > key_usage.last_used_at) \
       THEN excluded.last_used_at ELSE key_usage.last_used_at END";

fn counters_sql(backend: Backend) -> String {
    let rows = match backend {
        Backend::Sqlite => {
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]') \
             FROM json_each($1) WHERE true"
        }
        Backend::Postgres => {
            "SELECT e->>0, (e->>1)::bigint, e->>2, (e->>3)::bigint FROM json_array_elements($1::json) AS e"
        }
    };
    format!("INSERT INTO usage_counters (key_id, hour_start, code, count) {rows} {COUNTERS_UPSERT}")
}

/// Adds to `key_usage` (see migration 0003): a narrow row per key, so the
/// wide `api_keys` row is not rewritten every flush.
fn keys_sql(backend: Backend) -> String {
    let rows = match backend {
        Backend::Sqlite => {
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), NULLIF(json_extract(value, '$[2]'), 0) \
             FROM json_each($1) WHERE true"
        }
        Backend::Postgres => {
            "SELECT e->>0, (e->>1)::bigint, NULLIF((e->>2)::bigint, 0) FROM json_array_elements($1::json) AS e"
        }
    };
    format!("INSERT INTO key_usage (key_id, usage_count, last_used_at) {rows} {KEYS_UPSERT}")
}

/// SQLite: one prepared upsert per row on the background writer's thread.
pub fn write_usage_in_place(
    tx: &rusqlite::Transaction<'_>,
    counters: &[((u128, i64, VerifyCode), i64)],
    keys: &[(u128, KeyUse)],
) -> rusqlite::Result<()> {
    let mut id_text = uuid::Uuid::encode_buffer();
    let mut counter_upsert = tx.prepare_cached(&format!(
        "INSERT INTO usage_counters (key_id, hour_start, code, count) VALUES (?1, ?2, ?3, ?4) {COUNTERS_UPSERT}"
    ))?;
    for ((id, hour, code), n) in counters {
        let id: &str = uuid::Uuid::from_u128(*id).hyphenated().encode_lower(&mut id_text);
        counter_upsert.execute(rusqlite::params![id, hour, code.as_str(), n])?;
    }
    let mut key_upsert = tx.prepare_cached(&format!(
        "INSERT INTO key_usage (key_id, usage_count, last_used_at) VALUES (?1, ?2, NULLIF(?3, 0)) {KEYS_UPSERT}"
    ))?;
    for (id, u) in keys {
        let id: &str = uuid::Uuid::from_u128(*id).hyphenated().encode_lower(&mut id_text);
        key_upsert.execute(rusqlite::params![id, u.count, u.last_used_at])?;
    }
    Ok(())
}

/// Postgres (and in-memory SQLite): each statement binds its rows as one JSON array.
pub async fn write_usage_pooled(
    store: &Store,
    counters: &[((u128, i64, VerifyCode), i64)],
    keys: &[(u128, KeyUse)],
) -> sqlx::Result<()> {
    let backend = store.backend();
    let mut tx = store.begin().await?;
    if !counters.is_empty() {
        sqlx::query(AssertSqlSafe(counters_sql(backend))).bind(counters_json(counters)).execute(&mut *tx).await?;
    }
    if !keys.is_empty() {
        sqlx::query(AssertSqlSafe(keys_sql(backend))).bind(keys_json(keys)).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Per-bucket counts of one key between `from` (inclusive) and `to`
/// (exclusive), as `(hour_start, code, count)` sorted by hour.
pub async fn hourly_counts(
    pool: &AnyPool,
    key_id: &KeyId,
    from: i64,
    to: i64,
) -> sqlx::Result<Vec<(i64, String, i64)>> {
    let rows = sqlx::query(
        "SELECT hour_start, code, CAST(SUM(count) AS BIGINT) AS n FROM usage_counters \
         WHERE key_id = $1 AND hour_start >= $2 AND hour_start < $3 GROUP BY hour_start, code ORDER BY hour_start, code",
    )
    .bind(key_id)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).collect()
}
