//! Environments: the labels (`live`, `test`, …) keys are made in.

use super::*;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct EnvironmentRecord {
    pub id: EnvironmentId,
    pub organization_id: OrgId,
    pub name: String,
    pub created_at: i64,
}

pub async fn insert_environment(conn: &mut Conn, env: &EnvironmentRecord) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO environments (id, organization_id, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(env.id)
        .bind(env.organization_id)
        .bind(&env.name)
        .bind(env.created_at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn find_environment(conn: &mut Conn, org_id: &OrgId, name: &str) -> sqlx::Result<Option<EnvironmentRecord>> {
    sqlx::query_as(
        "SELECT id, organization_id, name, created_at FROM environments WHERE organization_id = $1 AND name = $2",
    )
    .bind(org_id)
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// Newest first; `starting_after` is the id of the last environment seen.
pub async fn list_environments(
    conn: &mut Conn,
    org_id: &OrgId,
    starting_after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<EnvironmentRecord>> {
    sqlx::query_as(
        "SELECT id, organization_id, name, created_at FROM environments WHERE organization_id = $1 \
         AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(org_id)
    .bind(starting_after.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await
}
