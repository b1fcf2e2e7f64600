//! The audit log: append-only, aggregated for failed authentication.

use super::*;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct AuditRecord {
    pub id: AuditEventId,
    pub organization_id: OrgId,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub created_at: i64,
    /// JSON `{before?, after?}` summary; never a secret.
    pub changes: String,
    /// How many times this event happened (more than 1 only for aggregated
    /// auth failures: one row per credential, address and minute).
    pub repeat_count: i64,
}

impl AuditRecord {
    /// An event of `actor` doing `action` to `target`, now, with no origin or changes yet.
    pub fn new(
        organization_id: OrgId,
        actor_type: &str,
        actor_id: impl Into<String>,
        action: &str,
        target_type: &str,
        target_id: impl Into<String>,
    ) -> Self {
        AuditRecord {
            id: AuditEventId::new(),
            organization_id,
            actor_type: actor_type.to_string(),
            actor_id: actor_id.into(),
            action: action.to_string(),
            target_type: target_type.to_string(),
            target_id: target_id.into(),
            ip: None,
            user_agent: None,
            request_id: None,
            created_at: super::now_ms(),
            changes: "{}".into(),
            repeat_count: 1,
        }
    }

    /// The before/after summary; never a secret.
    pub fn changes(mut self, changes: serde_json::Value) -> Self {
        self.changes = changes.to_string();
        self
    }

    /// Where the request came from.
    pub fn origin(mut self, ip: Option<String>, user_agent: Option<String>, request_id: Option<String>) -> Self {
        (self.ip, self.user_agent, self.request_id) = (ip, user_agent, request_id);
        self
    }
}

pub async fn insert_audit(conn: &mut Conn, e: &AuditRecord) -> sqlx::Result<()> {
    insert_audit_row(conn, e, None).await
}

/// Appends `e`, or counts one more of it when an event with the same
/// `aggregation_key` exists (one row per credential, address and minute for
/// auth failures: a flood costs O(minutes) rows, not O(requests)).
pub async fn insert_or_count_audit(conn: &mut Conn, e: &AuditRecord, aggregation_key: &str) -> sqlx::Result<()> {
    insert_audit_row(conn, e, Some(aggregation_key)).await
}

/// One statement for both: a NULL `aggregation_key` never conflicts.
async fn insert_audit_row(conn: &mut Conn, e: &AuditRecord, aggregation_key: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, organization_id, actor_type, actor_id, action, target_type, target_id, ip, \
         user_agent, request_id, created_at, changes, repeat_count, aggregation_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13) \
         ON CONFLICT (aggregation_key) DO UPDATE SET repeat_count = audit_events.repeat_count + 1",
    )
    .bind(e.id)
    .bind(e.organization_id)
    .bind(&e.actor_type)
    .bind(&e.actor_id)
    .bind(&e.action)
    .bind(&e.target_type)
    .bind(&e.target_id)
    .bind(&e.ip)
    .bind(&e.user_agent)
    .bind(&e.request_id)
    .bind(e.created_at)
    .bind(&e.changes)
    .bind(aggregation_key)
    .execute(conn)
    .await
    .map(|_| ())
}

pub struct AuditFilter<'a> {
    pub organization_id: &'a OrgId,
    pub action: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub target_id: Option<&'a str>,
    /// Inclusive, unix ms.
    pub since: Option<i64>,
    /// Exclusive, unix ms.
    pub until: Option<i64>,
    pub starting_after: Option<&'a str>,
    pub limit: i64,
}

/// Newest first (ids are UUIDv7).
pub async fn list_audit(conn: &mut Conn, f: &AuditFilter<'_>) -> sqlx::Result<Vec<AuditRecord>> {
    sqlx::query_as(
        "SELECT id, organization_id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, request_id, \
         created_at, changes, repeat_count FROM audit_events WHERE organization_id = $1 \
         AND ($2 = '' OR action = $2) AND ($3 = '' OR actor_id = $3) AND ($4 = '' OR target_id = $4) \
         AND created_at >= $5 AND created_at < $6 AND ($7 = '' OR id < $7) ORDER BY id DESC LIMIT $8",
    )
    .bind(f.organization_id)
    .bind(f.action.unwrap_or(""))
    .bind(f.actor_id.unwrap_or(""))
    .bind(f.target_id.unwrap_or(""))
    .bind(f.since.unwrap_or(i64::MIN))
    .bind(f.until.unwrap_or(i64::MAX))
    .bind(f.starting_after.unwrap_or(""))
    .bind(f.limit)
    .fetch_all(conn)
    .await
}
