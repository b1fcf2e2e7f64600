//! Memberships: a user's role in an organization.

use super::*;
use sqlx::{FromRow, Row};

#[derive(Debug, Clone, FromRow)]
pub struct MembershipRecord {
    pub organization_id: OrgId,
    pub user_id: String,
    pub role: String,
    pub created_at: i64,
}

/// An organization with the listing user's role.
#[derive(Debug, Clone, FromRow)]
pub struct OrgWithRole {
    pub id: OrgId,
    pub name: String,
    pub key_prefix: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub role: String,
}

impl OrgWithRole {
    pub fn org(&self) -> OrgRecord {
        OrgRecord {
            id: self.id,
            name: self.name.clone(),
            key_prefix: self.key_prefix.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
        }
    }
}

/// The user's role in a live organization.
pub async fn membership_role(conn: &mut Conn, org_id: &OrgId, user_id: &str) -> sqlx::Result<Option<String>> {
    let row = sqlx::query(
        "SELECT m.role AS role FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.organization_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.try_get::<String, _>("role")).transpose()
}

/// The user's oldest membership in a live organization: `(organization_id, role)`.
pub async fn first_membership(conn: &mut Conn, user_id: &str) -> sqlx::Result<Option<(OrgId, String)>> {
    let row = sqlx::query(
        "SELECT m.organization_id AS organization_id, m.role AS role FROM memberships m \
         JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 AND o.deleted_at IS NULL ORDER BY m.created_at ASC, m.organization_id ASC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((r.try_get("organization_id")?, r.try_get("role")?))).transpose()
}

/// Newest first; `starting_after` is the id of the last organization seen.
pub async fn list_user_orgs(
    conn: &mut Conn,
    user_id: &str,
    starting_after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<OrgWithRole>> {
    sqlx::query_as(
        "SELECT o.id AS id, o.name AS name, o.key_prefix AS key_prefix, o.created_at AS created_at, \
         o.updated_at AS updated_at, o.deleted_at AS deleted_at, m.role AS role \
         FROM memberships m JOIN organizations o ON o.id = m.organization_id \
         WHERE m.user_id = $1 AND o.deleted_at IS NULL AND ($2 = '' OR o.id < $2) ORDER BY o.id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(starting_after.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn insert_membership(conn: &mut Conn, m: &MembershipRecord) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(m.organization_id)
        .bind(&m.user_id)
        .bind(&m.role)
        .bind(m.created_at)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn get_membership(conn: &mut Conn, org_id: &OrgId, user_id: &str) -> sqlx::Result<Option<MembershipRecord>> {
    sqlx::query_as("SELECT organization_id, user_id, role, created_at FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

/// Newest first (by when they joined, then user id); `starting_after` is the
/// user id of the last member seen.
pub async fn list_members(
    conn: &mut Conn,
    org_id: &OrgId,
    starting_after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<MembershipRecord>> {
    let cursor = match starting_after {
        Some(user) => match get_membership(conn, org_id, user).await? {
            Some(m) => Some(m),
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    sqlx::query_as(
        "SELECT organization_id, user_id, role, created_at FROM memberships WHERE organization_id = $1 \
         AND ($2 = 0 OR created_at < $3 OR (created_at = $3 AND user_id < $4)) \
         ORDER BY created_at DESC, user_id DESC LIMIT $5",
    )
    .bind(org_id)
    .bind(i64::from(cursor.is_some()))
    .bind(cursor.as_ref().map_or(0, |m| m.created_at))
    .bind(cursor.as_ref().map_or("", |m| m.user_id.as_str()))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn update_membership_role(conn: &mut Conn, org_id: &OrgId, user_id: &str, role: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .bind(role)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn delete_membership(conn: &mut Conn, org_id: &OrgId, user_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
        .bind(org_id)
        .bind(user_id)
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn count_owners(conn: &mut Conn, org_id: &OrgId) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) AS n FROM memberships WHERE organization_id = $1 AND role = 'owner'")
        .bind(org_id)
        .fetch_one(conn)
        .await?
        .try_get::<i64, _>("n")
}
