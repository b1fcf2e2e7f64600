//! Projects: key defaults and prefixes, soft-deleted.

use super::*;
use sqlx::{AssertSqlSafe, FromRow, Row};

#[derive(Debug, Clone, FromRow)]
pub struct ProjectRecord {
    pub id: ProjectId,
    pub organization_id: OrgId,
    pub name: String,
    pub key_prefix: Option<String>,
    /// JSON array of scope strings.
    pub default_scopes: Option<String>,
    /// JSON `{limit, window_ms}`.
    pub default_rate_limit: Option<String>,
    pub default_ttl_seconds: Option<i64>,
    pub default_grace_period_seconds: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// Days before `expires_at`/`next_rotation_at` that warnings go out (NULL: 7).
    pub expiry_warning_days: Option<i64>,
    /// `revoke` (NULL) or `flag`: what a leak report does to a key.
    pub leak_policy: Option<String>,
}

const PROJECT_COLUMNS: &str = "id, organization_id, name, key_prefix, default_scopes, default_rate_limit, \
    default_ttl_seconds, default_grace_period_seconds, created_at, updated_at, deleted_at, expiry_warning_days, \
    leak_policy";

pub async fn insert_project(conn: &mut Conn, p: &ProjectRecord) -> sqlx::Result<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)"
    )))
    .bind(p.id)
    .bind(p.organization_id)
    .bind(&p.name)
    .bind(&p.key_prefix)
    .bind(&p.default_scopes)
    .bind(&p.default_rate_limit)
    .bind(p.default_ttl_seconds)
    .bind(p.default_grace_period_seconds)
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.expiry_warning_days)
    .bind(&p.leak_policy)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes a PATCH's settings only if the project is still live and as read
/// (`updated_at == read_at`); never touches `deleted_at`. False: read again.
pub async fn update_project(conn: &mut Conn, p: &ProjectRecord, read_at: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE projects SET name = $2, key_prefix = $3, default_scopes = $4, default_rate_limit = $5, \
         default_ttl_seconds = $6, default_grace_period_seconds = $7, updated_at = $8, \
         expiry_warning_days = $10, leak_policy = $11 WHERE id = $1 AND updated_at = $9 AND deleted_at IS NULL",
    )
    .bind(p.id)
    .bind(&p.name)
    .bind(&p.key_prefix)
    .bind(&p.default_scopes)
    .bind(&p.default_rate_limit)
    .bind(p.default_ttl_seconds)
    .bind(p.default_grace_period_seconds)
    .bind(p.updated_at)
    .bind(read_at)
    .bind(p.expiry_warning_days)
    .bind(&p.leak_policy)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_project(conn: &mut Conn, org_id: &OrgId, id: &ProjectId) -> sqlx::Result<Option<ProjectRecord>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn project_prefix_taken(
    conn: &mut Conn,
    org_id: &OrgId,
    prefix: &str,
    except_id: &ProjectId,
) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM projects WHERE organization_id = $1 AND key_prefix = $2 AND id <> $3 AND deleted_at IS NULL",
    )
    .bind(org_id)
    .bind(prefix)
    .bind(except_id)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Newest first; `starting_after` is the id of the last item already seen.
pub async fn list_projects(
    conn: &mut Conn,
    org_id: &OrgId,
    starting_after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ProjectRecord>> {
    live_page_of_org(conn, "projects", PROJECT_COLUMNS, org_id, starting_after, limit).await
}

pub async fn soft_delete_project(
    conn: &mut Conn,
    org_id: &OrgId,
    project_id: &ProjectId,
    at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE projects SET deleted_at = $3, updated_at = CASE WHEN updated_at >= $3 THEN updated_at + 1 ELSE $3 END \
         WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(org_id)
    .bind(project_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
