//! API keys: rows, the lifecycle's writes (each a claim or a compare-and-swap
//! that returns the hash it touched, for cache invalidation), and the narrow
//! read verify makes (`docs/architecture.md#the-verify-path`).

use super::*;
use sqlx::{AnyPool, AssertSqlSafe, FromRow, Row};

/// A stored key. Holds the hash, never a plaintext.
#[derive(Debug, Clone, Default, FromRow)]
pub struct KeyRecord {
    pub id: KeyId,
    pub organization_id: OrgId,
    pub project_id: Option<ProjectId>,
    pub environment_id: EnvironmentId,
    pub environment: String,
    pub name: String,
    pub key_hash: String,
    pub key_prefix: String,
    pub last4: String,
    /// JSON array.
    pub scopes: String,
    /// JSON array.
    pub allowed_ips: String,
    /// JSON object.
    pub meta: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
    pub is_active: i64,
    pub created_by_user_id: Option<String>,
    pub device_name: Option<String>,
    pub source: String,
    pub rate_limit_limit: Option<i64>,
    pub rate_limit_window_ms: Option<i64>,
    pub usage_remaining: Option<i64>,
    pub usage_refill_amount: Option<i64>,
    pub usage_refill_interval_ms: Option<i64>,
    pub usage_refilled_at: Option<i64>,
    pub usage_count: i64,
    pub replaced_by_key_id: Option<KeyId>,
    pub grace_expires_at: Option<i64>,
    pub rotation_interval_days: Option<i64>,
    pub next_rotation_at: Option<i64>,
    pub rotation_webhook_url: Option<String>,
}

impl KeyRecord {
    /// A new, active key in `environment` holding `minted`'s hash: no project,
    /// scopes, limits, usage or rotation yet. Callers set the rest with struct
    /// update syntax.
    pub fn fresh(
        organization_id: &OrgId,
        environment: &EnvironmentRecord,
        minted: &crate::keyfmt::NewKey,
        now: i64,
    ) -> Self {
        KeyRecord {
            id: KeyId::new(),
            organization_id: *organization_id,
            project_id: None,
            environment_id: environment.id,
            environment: environment.name.clone(),
            name: String::new(),
            key_hash: minted.hash.clone(),
            key_prefix: minted.key_prefix.clone(),
            last4: minted.last4.clone(),
            scopes: "[]".into(),
            allowed_ips: "[]".into(),
            meta: "{}".into(),
            expires_at: None,
            last_used_at: None,
            created_at: now,
            updated_at: now,
            revoked_at: None,
            is_active: 1,
            created_by_user_id: None,
            device_name: None,
            source: "api".into(),
            rate_limit_limit: None,
            rate_limit_window_ms: None,
            usage_remaining: None,
            usage_refill_amount: None,
            usage_refill_interval_ms: None,
            usage_refilled_at: None,
            usage_count: 0,
            replaced_by_key_id: None,
            grace_expires_at: None,
            rotation_interval_days: None,
            next_rotation_at: None,
            rotation_webhook_url: None,
        }
    }
}

const KEY_COLUMNS: &str = "id, organization_id, project_id, environment_id, environment, name, key_hash, key_prefix, \
    last4, scopes, allowed_ips, meta, expires_at, last_used_at, created_at, updated_at, revoked_at, is_active, \
    created_by_user_id, device_name, source, rate_limit_limit, rate_limit_window_ms, usage_remaining, \
    usage_refill_amount, usage_refill_interval_ms, usage_refilled_at, usage_count, replaced_by_key_id, \
    grace_expires_at, rotation_interval_days, next_rotation_at, rotation_webhook_url";

/// `KEY_COLUMNS` for reads, over `api_keys` LEFT JOIN `key_usage` (the
/// write-behind's counts since migration 0003 are added to the column's).
const KEY_SELECT: &str = "SELECT api_keys.id, organization_id, project_id, environment_id, environment, name, key_hash, \
    key_prefix, last4, scopes, allowed_ips, meta, expires_at, \
    CASE WHEN ku.last_used_at IS NOT NULL AND (api_keys.last_used_at IS NULL OR ku.last_used_at > api_keys.last_used_at) \
    THEN ku.last_used_at ELSE api_keys.last_used_at END AS last_used_at, \
    created_at, updated_at, revoked_at, is_active, created_by_user_id, device_name, source, rate_limit_limit, \
    rate_limit_window_ms, usage_remaining, usage_refill_amount, usage_refill_interval_ms, usage_refilled_at, \
    api_keys.usage_count + COALESCE(ku.usage_count, 0) AS usage_count, replaced_by_key_id, grace_expires_at, \
    rotation_interval_days, next_rotation_at, rotation_webhook_url \
    FROM api_keys LEFT JOIN key_usage ku ON ku.key_id = api_keys.id";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds the 33 `KEY_COLUMNS` of `k`, in order.
fn bind_key<'q>(q: AnyQuery<'q>, k: &KeyRecord) -> AnyQuery<'q> {
    q.bind(k.id)
        .bind(k.organization_id)
        .bind(k.project_id)
        .bind(k.environment_id)
        .bind(&k.environment)
        .bind(&k.name)
        .bind(&k.key_hash)
        .bind(&k.key_prefix)
        .bind(&k.last4)
        .bind(&k.scopes)
        .bind(&k.allowed_ips)
        .bind(&k.meta)
        .bind(k.expires_at)
        .bind(k.last_used_at)
        .bind(k.created_at)
        .bind(k.updated_at)
        .bind(k.revoked_at)
        .bind(k.is_active)
        .bind(&k.created_by_user_id)
        .bind(&k.device_name)
        .bind(&k.source)
        .bind(k.rate_limit_limit)
        .bind(k.rate_limit_window_ms)
        .bind(k.usage_remaining)
        .bind(k.usage_refill_amount)
        .bind(k.usage_refill_interval_ms)
        .bind(k.usage_refilled_at)
        .bind(k.usage_count)
        .bind(k.replaced_by_key_id)
        .bind(k.grace_expires_at)
        .bind(k.rotation_interval_days)
        .bind(k.next_rotation_at)
        .bind(&k.rotation_webhook_url)
}

const KEY_COLUMN_COUNT: usize = 33;

fn key_values_sql(rows: usize) -> String {
    let values = (0..rows)
        .map(|r| {
            let cols = (1..=KEY_COLUMN_COUNT).map(|c| format!("${}", r * KEY_COLUMN_COUNT + c)).collect::<Vec<_>>();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES {values}")
}

pub async fn insert_key(conn: &mut Conn, k: &KeyRecord) -> sqlx::Result<()> {
    bind_key(sqlx::query(AssertSqlSafe(key_values_sql(1))), k).execute(conn).await.map(|_| ())
}

/// Rows per statement of [`insert_keys`]. Small on purpose: sqlx resolves
/// each bind parameter by name, so a statement costs O(binds²) to bind.
pub const INSERT_KEYS_CHUNK: usize = 16;

/// [`insert_key`] for many keys: multi-row INSERTs of up to
/// [`INSERT_KEYS_CHUNK`] rows with exactly the columns and values
/// `insert_key` writes (bulk seeding for the benchmark).
pub async fn insert_keys(conn: &mut Conn, keys: &[KeyRecord]) -> sqlx::Result<()> {
    let full_sql = key_values_sql(INSERT_KEYS_CHUNK);
    for chunk in keys.chunks(INSERT_KEYS_CHUNK) {
        let sql = if chunk.len() == INSERT_KEYS_CHUNK { full_sql.clone() } else { key_values_sql(chunk.len()) };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for k in chunk {
            q = bind_key(q, k);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A key of one organization (another tenant's id is simply not found).
pub async fn get_key(conn: &mut Conn, org_id: &OrgId, id: &KeyId) -> sqlx::Result<Option<KeyRecord>> {
    sqlx::query_as(AssertSqlSafe(format!("{KEY_SELECT} WHERE organization_id = $1 AND api_keys.id = $2")))
        .bind(org_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The columns of a key that verify and caller authentication read.
pub const KEY_VIEW_BY_HASH: &str = "SELECT id, organization_id, project_id, environment, name, scopes, allowed_ips, meta, \
    expires_at, revoked_at, is_active, rate_limit_limit, rate_limit_window_ms, usage_remaining, grace_expires_at \
    FROM api_keys WHERE key_hash = $1";

/// A row of [`KEY_VIEW_BY_HASH`] as a [`KeyRecord`] (the other fields left
/// at their defaults), read with `$row.$get(column)` — sqlx and rusqlite
/// rows name that method differently.
macro_rules! key_view_record {
    ($row:expr, $get:ident) => {
        KeyRecord {
            id: $row.$get(0)?,
            organization_id: $row.$get(1)?,
            project_id: $row.$get(2)?,
            environment: $row.$get(3)?,
            name: $row.$get(4)?,
            scopes: $row.$get(5)?,
            allowed_ips: $row.$get(6)?,
            meta: $row.$get(7)?,
            expires_at: $row.$get(8)?,
            revoked_at: $row.$get(9)?,
            is_active: $row.$get(10)?,
            rate_limit_limit: $row.$get(11)?,
            rate_limit_window_ms: $row.$get(12)?,
            usage_remaining: $row.$get(13)?,
            grace_expires_at: $row.$get(14)?,
            ..KeyRecord::default()
        }
    };
}

pub(super) fn key_view_from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<KeyRecord> {
    Ok(key_view_record!(row, try_get))
}

/// [`KEY_VIEW_BY_HASH`] through a SQLite connection of this thread.
pub(super) fn key_view_in_place(conn: &rusqlite::Connection, hash: &str) -> rusqlite::Result<Option<KeyRecord>> {
    use rusqlite::OptionalExtension;
    let mut statement = conn.prepare_cached(KEY_VIEW_BY_HASH)?;
    statement.query_row([hash], |row| Ok(key_view_record!(row, get))).optional()
}

pub async fn find_key_by_hash(conn: &mut Conn, hash: &str) -> sqlx::Result<Option<KeyRecord>> {
    sqlx::query_as(AssertSqlSafe(format!("{KEY_SELECT} WHERE key_hash = $1"))).bind(hash).fetch_optional(conn).await
}

/// Keys of an organization (or one of its projects) still verifying at `at`
/// (what deleting it revokes).
pub async fn live_keys_of(
    conn: &mut Conn,
    org_id: &OrgId,
    project_id: Option<&ProjectId>,
    at: i64,
) -> sqlx::Result<Vec<KeyRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "{KEY_SELECT} WHERE organization_id = $1 AND ($2 = '' OR project_id = $2) \
         AND (revoked_at IS NULL OR revoked_at > $3)"
    )))
    .bind(org_id)
    .bind(project_id.map(ToString::to_string).unwrap_or_default())
    .bind(at)
    .fetch_all(conn)
    .await
}

pub struct KeyFilter<'a> {
    pub organization_id: &'a OrgId,
    pub project_id: Option<&'a ProjectId>,
    pub environment: Option<&'a str>,
    pub starting_after: Option<&'a str>,
    pub limit: i64,
}

/// Newest first (ids are UUIDv7, so id order is creation order).
pub async fn list_keys(conn: &mut Conn, f: &KeyFilter<'_>) -> sqlx::Result<Vec<KeyRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "{KEY_SELECT} WHERE organization_id = $1 \
         AND ($2 = '' OR project_id = $2) AND ($3 = '' OR environment = $3) AND ($4 = '' OR api_keys.id < $4) \
         ORDER BY api_keys.id DESC LIMIT $5"
    )))
    .bind(f.organization_id)
    .bind(f.project_id.map(ToString::to_string).unwrap_or_default())
    .bind(f.environment.unwrap_or(""))
    .bind(f.starting_after.unwrap_or(""))
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

/// Writes the settings a PATCH may change. Usage counters and the quota are
/// left alone: verify changes them concurrently.
/// Writes a PATCH's settings — only if the row is still the one the PATCH
/// read (`updated_at == read_at`: every write to a key moves it), so a
/// concurrent revoke, rotation or PATCH is never overwritten with what was
/// read before it. Returns the key's current hash, or `None` when the row
/// moved on (the caller reads again and retries).
pub async fn update_key_settings(conn: &mut Conn, k: &KeyRecord, read_at: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE api_keys SET name = $2, scopes = $3, allowed_ips = $4, meta = $5, expires_at = $6, is_active = $7, \
         device_name = $8, rate_limit_limit = $9, rate_limit_window_ms = $10, rotation_interval_days = $11, \
         next_rotation_at = $12, rotation_webhook_url = $13, updated_at = $14 WHERE id = $1 AND updated_at = $15 \
         RETURNING key_hash",
    )
    .bind(k.id)
    .bind(&k.name)
    .bind(&k.scopes)
    .bind(&k.allowed_ips)
    .bind(&k.meta)
    .bind(k.expires_at)
    .bind(k.is_active)
    .bind(&k.device_name)
    .bind(k.rate_limit_limit)
    .bind(k.rate_limit_window_ms)
    .bind(k.rotation_interval_days)
    .bind(k.next_rotation_at)
    .bind(&k.rotation_webhook_url)
    .bind(k.updated_at)
    .bind(read_at)
    .fetch_optional(conn)
    .await
}

pub async fn set_usage_limit(conn: &mut Conn, k: &KeyRecord) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_keys SET usage_remaining = $2, usage_refill_amount = $3, usage_refill_interval_ms = $4, \
         usage_refilled_at = $5 WHERE id = $1",
    )
    .bind(k.id)
    .bind(k.usage_remaining)
    .bind(k.usage_refill_amount)
    .bind(k.usage_refill_interval_ms)
    .bind(k.usage_refilled_at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Swap the secret of a live key in place (regenerate). Returns false when the
/// key was revoked or replaced meanwhile.
pub async fn replace_secret(conn: &mut Conn, k: &KeyRecord) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET key_hash = $2, key_prefix = $3, last4 = $4, \
         updated_at = CASE WHEN updated_at >= $5 THEN updated_at + 1 ELSE $5 END \
         WHERE id = $1 AND revoked_at IS NULL AND replaced_by_key_id IS NULL",
    )
    .bind(k.id)
    .bind(&k.key_hash)
    .bind(&k.key_prefix)
    .bind(&k.last4)
    .bind(k.updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revoke now, unless already revoked at or before now. Returns the hash
/// this call revoked — the one stored now, which a concurrent regenerate may
/// have changed since the caller read the key — or `None` when it already was.
pub async fn revoke_key(conn: &mut Conn, id: &KeyId, at: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE api_keys SET revoked_at = $2, is_active = 0, updated_at = CASE WHEN updated_at >= $2 THEN updated_at + 1 ELSE $2 END \
         WHERE id = $1 AND (revoked_at IS NULL OR revoked_at > $2) RETURNING key_hash",
    )
    .bind(id)
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// Mark `old_id` replaced by `new_id`; it stays valid until `revoke_at` (the
/// grace end, or now). Claims the key: false when it was revoked or already
/// replaced, so two concurrent rotations cannot both win.
/// Returns the replaced key's hash as stored now (a concurrent regenerate may
/// have changed it), or `None` when the claim was lost.
pub async fn mark_replaced(
    conn: &mut Conn,
    old_id: &KeyId,
    new_id: &KeyId,
    revoke_at: i64,
    grace_expires_at: Option<i64>,
    now: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "UPDATE api_keys SET replaced_by_key_id = $2, revoked_at = $3, grace_expires_at = $4, \
         updated_at = CASE WHEN updated_at >= $5 THEN updated_at + 1 ELSE $5 END, \
         next_rotation_at = NULL WHERE id = $1 AND revoked_at IS NULL AND replaced_by_key_id IS NULL RETURNING key_hash",
    )
    .bind(old_id)
    .bind(new_id)
    .bind(revoke_at)
    .bind(grace_expires_at)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Revokes every live key of an organization (or of one of its projects).
/// Returns the hashes of all the keys concerned, for cache invalidation, and
/// how many this call revoked.
pub async fn revoke_keys_of(
    conn: &mut Conn,
    org_id: &OrgId,
    project_id: Option<&ProjectId>,
    at: i64,
) -> sqlx::Result<(Vec<String>, u64)> {
    let hashes: Vec<String> =
        sqlx::query("SELECT key_hash FROM api_keys WHERE organization_id = $1 AND ($2 = '' OR project_id = $2)")
            .bind(org_id)
            .bind(project_id.map(ToString::to_string).unwrap_or_default())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("key_hash"))
            .collect::<Result<_, _>>()?;
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $3, is_active = 0, updated_at = CASE WHEN updated_at >= $3 THEN updated_at + 1 ELSE $3 END \
         WHERE organization_id = $1 AND ($2 = '' OR project_id = $2) AND (revoked_at IS NULL OR revoked_at > $3)",
    )
    .bind(org_id)
    .bind(project_id.map(ToString::to_string).unwrap_or_default())
    .bind(at)
    .execute(conn)
    .await?;
    Ok((hashes, done.rows_affected()))
}

/// Whether any key was imported (imported keys may lack our checksum, so
/// verify must look them up by hash).
pub async fn has_imported_keys(pool: &AnyPool) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM api_keys WHERE source = 'import' LIMIT 1) t")
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

impl crate::domain::keys::KeyLifecycle for KeyRecord {
    fn revoked_at(&self) -> Option<i64> {
        self.revoked_at
    }
    fn is_active(&self) -> bool {
        self.is_active != 0
    }
    fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
}
