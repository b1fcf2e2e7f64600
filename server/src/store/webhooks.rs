//! Webhook endpoints, the event outbox and its deliveries. A delivery is
//! leased by a conditional UPDATE, so several processes share the work
//! without sending one twice at once.

use super::*;
use sqlx::{AnyPool, AssertSqlSafe, FromRow};

/// `Debug` leaves the secret out.
#[derive(Clone, FromRow)]
pub struct WebhookEndpointRecord {
    pub id: WebhookEndpointId,
    pub organization_id: OrgId,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of event types; empty means every event.
    pub event_types: String,
    /// `whsec_…`; shown once at creation and on rotation.
    pub secret: String,
    pub is_active: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl std::fmt::Debug for WebhookEndpointRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpointRecord")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("secret", &"***")
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct WebhookEventRecord {
    pub id: String,
    pub organization_id: OrgId,
    pub event_type: String,
    pub payload: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct WebhookDeliveryRecord {
    pub id: WebhookDeliveryId,
    pub organization_id: OrgId,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: Option<WebhookEndpointId>,
    pub api_key_id: Option<KeyId>,
    pub url: String,
    pub status: String,
    pub attempts: i64,
    pub retry_step: i64,
    pub next_attempt_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const DELIVERY_PENDING: &str = "pending";
pub const DELIVERY_SUCCEEDED: &str = "succeeded";
pub const DELIVERY_FAILED: &str = "failed";

const ENDPOINT_COLUMNS: &str =
    "id, organization_id, url, description, event_types, secret, is_active, created_at, updated_at, deleted_at";
const DELIVERY_COLUMNS: &str = "id, organization_id, event_id, event_type, endpoint_id, api_key_id, url, status, \
    attempts, retry_step, next_attempt_at, locked_until, last_attempt_at, last_status_code, last_error, delivered_at, \
    created_at, updated_at";

pub async fn insert_webhook_endpoint(conn: &mut Conn, e: &WebhookEndpointRecord) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)"
    )))
    .bind(e.id)
    .bind(e.organization_id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(&e.event_types)
    .bind(&e.secret)
    .bind(e.is_active)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes `e` only if the endpoint is live and unchanged since it was read
/// (`updated_at == read_at`): a PATCH that raced a secret rotation or a
/// delete never writes the old secret or a cleared `deleted_at` back.
/// False: read again.
pub async fn update_webhook_endpoint(conn: &mut Conn, e: &WebhookEndpointRecord, read_at: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, secret = $5, is_active = $6, \
         updated_at = $7, deleted_at = $8 WHERE id = $1 AND updated_at = $9 AND deleted_at IS NULL",
    )
    .bind(e.id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(&e.event_types)
    .bind(&e.secret)
    .bind(e.is_active)
    .bind(e.updated_at)
    .bind(e.deleted_at)
    .bind(read_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_webhook_endpoint(
    conn: &mut Conn,
    org_id: &OrgId,
    id: &WebhookEndpointId,
) -> sqlx::Result<Option<WebhookEndpointRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Newest first.
pub async fn list_webhook_endpoints(
    conn: &mut Conn,
    org_id: &OrgId,
    starting_after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<WebhookEndpointRecord>> {
    live_page_of_org(conn, "webhook_endpoints", ENDPOINT_COLUMNS, org_id, starting_after, limit).await
}

/// The active endpoints an event of `org_id` fans out to (filtered by type by the caller).
pub async fn active_webhook_endpoints(conn: &mut Conn, org_id: &OrgId) -> sqlx::Result<Vec<WebhookEndpointRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE organization_id = $1 AND deleted_at IS NULL \
         AND is_active = 1 ORDER BY id"
    )))
    .bind(org_id)
    .fetch_all(conn)
    .await
}

/// The secret that signs an endpoint's deliveries (also a deleted endpoint's,
/// for deliveries still queued).
pub async fn webhook_endpoint_secret(conn: &mut Conn, id: &WebhookEndpointId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT secret FROM webhook_endpoints WHERE id = $1").bind(id).fetch_optional(conn).await
}

/// The organization's secret for keys' `rotation_webhook_url` deliveries.
pub async fn key_webhook_secret(conn: &mut Conn, org_id: &OrgId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar::<_, Option<String>>("SELECT key_webhook_secret FROM organizations WHERE id = $1")
        .bind(org_id)
        .fetch_optional(conn)
        .await
        .map(Option::flatten)
}

/// Sets the secret when `replace`, or only when none is set yet; returns the one in force.
pub async fn set_key_webhook_secret(
    conn: &mut Conn,
    org_id: &OrgId,
    secret: &str,
    replace: bool,
) -> sqlx::Result<String> {
    let sql = if replace {
        "UPDATE organizations SET key_webhook_secret = $2 WHERE id = $1"
    } else {
        "UPDATE organizations SET key_webhook_secret = $2 WHERE id = $1 AND key_webhook_secret IS NULL"
    };
    sqlx::query(sql).bind(org_id).bind(secret).execute(&mut *conn).await?;
    Ok(key_webhook_secret(conn, org_id).await?.unwrap_or_else(|| secret.to_string()))
}

pub async fn insert_webhook_event(conn: &mut Conn, e: &WebhookEventRecord) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_events (id, organization_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&e.id)
    .bind(e.organization_id)
    .bind(&e.event_type)
    .bind(&e.payload)
    .bind(e.created_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn webhook_event_payload(conn: &mut Conn, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT payload FROM webhook_events WHERE id = $1").bind(id).fetch_optional(conn).await
}

/// Payloads of several events at once, by event id.
pub async fn webhook_event_payloads(
    conn: &mut Conn,
    ids: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders = (1..=ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let mut query = sqlx::query_as::<_, (String, String)>(AssertSqlSafe(format!(
        "SELECT id, payload FROM webhook_events WHERE id IN ({placeholders})"
    )));
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(conn).await?.into_iter().collect())
}

pub async fn insert_webhook_delivery(conn: &mut Conn, d: &WebhookDeliveryRecord) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    )))
    .bind(d.id)
    .bind(d.organization_id)
    .bind(&d.event_id)
    .bind(&d.event_type)
    .bind(d.endpoint_id)
    .bind(d.api_key_id)
    .bind(&d.url)
    .bind(&d.status)
    .bind(d.attempts)
    .bind(d.retry_step)
    .bind(d.next_attempt_at)
    .bind(d.locked_until)
    .bind(d.last_attempt_at)
    .bind(d.last_status_code)
    .bind(&d.last_error)
    .bind(d.delivered_at)
    .bind(d.created_at)
    .bind(d.updated_at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn get_webhook_delivery(
    conn: &mut Conn,
    org_id: &OrgId,
    id: &WebhookDeliveryId,
) -> sqlx::Result<Option<WebhookDeliveryRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE organization_id = $1 AND id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub struct DeliveryFilter<'a> {
    pub organization_id: &'a OrgId,
    pub endpoint_id: Option<&'a WebhookEndpointId>,
    pub api_key_id: Option<&'a KeyId>,
    pub event_type: Option<&'a str>,
    pub status: Option<&'a str>,
    pub starting_after: Option<&'a str>,
    pub limit: i64,
}

/// Newest first.
pub async fn list_webhook_deliveries(
    conn: &mut Conn,
    f: &DeliveryFilter<'_>,
) -> sqlx::Result<Vec<WebhookDeliveryRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE organization_id = $1 \
         AND ($2 = '' OR endpoint_id = $2) AND ($3 = '' OR api_key_id = $3) AND ($4 = '' OR event_type = $4) \
         AND ($5 = '' OR status = $5) AND ($6 = '' OR id < $6) ORDER BY id DESC LIMIT $7"
    )))
    .bind(f.organization_id)
    .bind(f.endpoint_id.map(ToString::to_string).unwrap_or_default())
    .bind(f.api_key_id.map(ToString::to_string).unwrap_or_default())
    .bind(f.event_type.unwrap_or(""))
    .bind(f.status.unwrap_or(""))
    .bind(f.starting_after.unwrap_or(""))
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

/// Organizations with due deliveries that no worker holds, the longest-waiting first.
pub async fn orgs_with_due_webhook_deliveries(pool: &AnyPool, now: i64, limit: i64) -> sqlx::Result<Vec<OrgId>> {
    sqlx::query_scalar(
        "SELECT organization_id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
         AND (locked_until IS NULL OR locked_until <= $1) GROUP BY organization_id ORDER BY MIN(next_attempt_at) LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One organization's pending deliveries whose time has come and that no worker holds.
pub async fn due_webhook_deliveries_of(
    pool: &AnyPool,
    org_id: &OrgId,
    now: i64,
    limit: i64,
) -> sqlx::Result<Vec<WebhookDeliveryRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE organization_id = $1 AND status = 'pending' \
         AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) ORDER BY next_attempt_at, id LIMIT $3"
    )))
    .bind(org_id)
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Takes a lease on a due delivery; false when another worker (in this or
/// another process) took it first.
pub async fn claim_webhook_delivery(
    pool: &AnyPool,
    id: &WebhookDeliveryId,
    now: i64,
    lease_until: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET locked_until = $3 WHERE id = $1 AND status = 'pending' \
         AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2)",
    )
    .bind(id)
    .bind(now)
    .bind(lease_until)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The outcome of one attempt: `status` and `next_attempt_at` say what comes next.
pub async fn record_webhook_attempt(pool: &AnyPool, d: &WebhookDeliveryRecord) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = $3, retry_step = $4, next_attempt_at = $5, \
         locked_until = NULL, last_attempt_at = $6, last_status_code = $7, last_error = $8, delivered_at = $9, \
         updated_at = $10 WHERE id = $1",
    )
    .bind(d.id)
    .bind(&d.status)
    .bind(d.attempts)
    .bind(d.retry_step)
    .bind(d.next_attempt_at)
    .bind(d.last_attempt_at)
    .bind(d.last_status_code)
    .bind(&d.last_error)
    .bind(d.delivered_at)
    .bind(d.updated_at)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Queue a delivery again now with a fresh retry budget (keeps its attempt count).
pub async fn requeue_webhook_delivery(conn: &mut Conn, id: &WebhookDeliveryId, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = $2, locked_until = NULL, \
         updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Deletes up to `limit` finished deliveries last touched before `before`,
/// then up to `limit` events older than that left without deliveries.
/// Returns how many rows went.
pub async fn purge_webhook_history(pool: &AnyPool, before: i64, limit: i64) -> sqlx::Result<u64> {
    let deliveries = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
         WHERE status IN ('succeeded', 'failed') AND updated_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(pool)
    .await?;
    let events = sqlx::query(
        "DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e WHERE e.created_at < $1 \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) ORDER BY e.created_at LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(deliveries.rows_affected() + events.rows_affected())
}

/// Non-deleted endpoints of an organization.
pub async fn count_webhook_endpoints(conn: &mut Conn, org_id: &OrgId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE organization_id = $1 AND deleted_at IS NULL")
        .bind(org_id)
        .fetch_one(conn)
        .await
}

// ---------------------------------------------------------------- secrets at rest (`crate::secrets`)
// `table` and `column` are the constants of `crate::secrets::COLUMNS`, never input.

/// How many rows of `table` hold a secret in `column` (any form).
pub async fn count_stored_secrets(pool: &AnyPool, table: &str, column: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL")))
        .fetch_one(pool)
        .await
}

/// Up to `limit` `(id, stored)` rows after `after` whose secret does not start
/// as `sealed_like` (a LIKE pattern: sealed under the current key).
pub async fn secrets_not_sealed_as(
    pool: &AnyPool,
    table: &str,
    column: &str,
    sealed_like: &str,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE $1 AND id > $2 \
         ORDER BY id LIMIT $3"
    )))
    .bind(sealed_like)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Replaces a stored secret only if it is still `old` (another process may
/// have re-sealed or rotated it meanwhile); returns the rows changed.
pub async fn replace_stored_secret(
    conn: &mut Conn,
    table: &str,
    column: &str,
    id: &str,
    old: &str,
    new: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query(AssertSqlSafe(format!("UPDATE {table} SET {column} = $1 WHERE id = $2 AND {column} = $3")))
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
