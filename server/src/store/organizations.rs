//! Organizations: the tenants. Like every store file, each function takes a
//! connection (or a transaction deref'd to one) so the caller decides the
//! transaction: a change and its audit event always commit together.

use super::*;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct OrgRecord {
    pub id: OrgId,
    pub name: String,
    pub key_prefix: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

pub async fn insert_org(conn: &mut Conn, org: &OrgRecord) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO organizations (id, name, key_prefix, created_at, updated_at, deleted_at) VALUES ($1, $2, $3, $4, $5, NULL)")
        .bind(org.id)
        .bind(&org.name)
        .bind(&org.key_prefix)
        .bind(org.created_at)
        .bind(org.updated_at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn get_org(conn: &mut Conn, id: &OrgId) -> sqlx::Result<Option<OrgRecord>> {
    sqlx::query_as("SELECT id, name, key_prefix, created_at, updated_at, deleted_at FROM organizations WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Takes the organization's row lock for the rest of the transaction, so
/// member changes of one organization (last-owner checks) and its endpoint
/// creations (the per-organization cap) run one at a time. False when the
/// organization is gone.
pub async fn lock_org(conn: &mut Conn, org_id: &OrgId) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1 AND deleted_at IS NULL")
        .bind(org_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_org(conn: &mut Conn, org: &OrgRecord) -> sqlx::Result<()> {
    sqlx::query("UPDATE organizations SET name = $2, key_prefix = $3, updated_at = $4 WHERE id = $1")
        .bind(org.id)
        .bind(&org.name)
        .bind(&org.key_prefix)
        .bind(org.updated_at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn soft_delete_org(conn: &mut Conn, org_id: &OrgId, at: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE organizations SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(org_id)
            .bind(at)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}
