//! Idempotency records: one row per (credential, route, key) scope hash,
//! claimed in flight, then holding the sealed first response
//! (`docs/architecture.md#http-conventions`).

use sqlx::{AnyPool, FromRow};

/// A record's `status` while its request is still being executed.
pub const IDEMPOTENCY_IN_FLIGHT: i64 = 0;

#[derive(Debug, Clone, FromRow)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    /// The HTTP status of the stored response, or [`IDEMPOTENCY_IN_FLIGHT`].
    pub status: i64,
    /// The response body, sealed under a key derived from the idempotency key.
    pub response_body: Option<String>,
    /// JSON `[[name, value], …]` of the replayed headers.
    pub response_headers: Option<String>,
    pub created_at: i64,
}

/// Claims `scope_hash` for a request now in flight; false when a record exists.
pub async fn claim_idempotency(pool: &AnyPool, scope_hash: &str, request_hash: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO idempotency_records (scope_hash, request_hash, status, response_body, response_headers, created_at) \
         VALUES ($1, $2, $3, NULL, NULL, $4) ON CONFLICT (scope_hash) DO NOTHING",
    )
    .bind(scope_hash)
    .bind(request_hash)
    .bind(IDEMPOTENCY_IN_FLIGHT)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_idempotency(pool: &AnyPool, scope_hash: &str) -> sqlx::Result<Option<IdempotencyRecord>> {
    sqlx::query_as(
        "SELECT request_hash, status, response_body, response_headers, created_at FROM idempotency_records \
         WHERE scope_hash = $1",
    )
    .bind(scope_hash)
    .fetch_optional(pool)
    .await
}

/// Deletes the record of `scope_hash` if it is still the one created at
/// `created_at` (and, with `only_in_flight`, still in flight).
pub async fn forget_idempotency(
    pool: &AnyPool,
    scope_hash: &str,
    created_at: Option<i64>,
    only_in_flight: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM idempotency_records WHERE scope_hash = $1 AND ($2 IS NULL OR created_at = $2) \
         AND ($3 = 0 OR status = $4)",
    )
    .bind(scope_hash)
    .bind(created_at)
    .bind(i64::from(only_in_flight))
    .bind(IDEMPOTENCY_IN_FLIGHT)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Stores the first response of `scope_hash`, sealed.
pub async fn settle_idempotency(
    pool: &AnyPool,
    scope_hash: &str,
    status: i64,
    sealed_body: &str,
    headers_json: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_records SET status = $2, response_body = $3, response_headers = $4 WHERE scope_hash = $1",
    )
    .bind(scope_hash)
    .bind(status)
    .bind(sealed_body)
    .bind(headers_json)
    .execute(pool)
    .await
    .map(|_| ())
}
