//! Members: who belongs to the caller's organization, with which role
//! (`docs/roles.md`). Making, demoting or removing an owner is owner-level,
//! and the last owner can be neither demoted nor removed; every write holds
//! the organization's row lock so two of them cannot each leave the other
//! as the last owner.

use crate::{
    app::{
        AppState,
        caller::Caller,
        organizations::lock_org,
        pagination::{Page, PageQuery},
        validate,
    },
    domain::{
        access::{Permission, Role},
        time::ms_to_time,
    },
    error::{ApiError, ApiResult},
    store::{self, MembershipRecord},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A user's membership in an organization.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"organization_id": "0193a3c1-0000-7000-8000-000000000001", "user_id": "user_2abc", "role": "admin", "created_at": "2026-11-23T12:00:00Z"}))]
pub struct Member {
    pub organization_id: Uuid,
    /// The user's id at the identity provider (the session JWT's `sub`).
    pub user_id: String,
    pub role: Role,
    /// When the user joined.
    pub created_at: DateTime<Utc>,
}

impl From<&MembershipRecord> for Member {
    fn from(m: &MembershipRecord) -> Self {
        Member {
            organization_id: m.organization_id.uuid(),
            user_id: m.user_id.clone(),
            role: Role::parse(&m.role).unwrap_or(Role::Viewer),
            created_at: ms_to_time(m.created_at),
        }
    }
}

/// A user to add (by their session `sub`) with a role.
#[derive(Debug, Clone)]
pub struct NewMember {
    pub user_id: String,
    pub role: Role,
}

/// Member management is organization-level: the path's organization must be
/// the caller's, and a project key may not.
fn require_members(caller: &Caller, org: &str, permission: Permission, what: &str) -> ApiResult<()> {
    caller.require_organization(org)?;
    caller.require(permission)?;
    caller.require_org_level(what)
}

/// A page of members, newest first (by when they joined); the cursor is a user id.
pub async fn list_members(
    state: &AppState,
    caller: &Caller,
    org: &str,
    page: &PageQuery<String>,
) -> ApiResult<Page<MembershipRecord>> {
    require_members(caller, org, Permission::MembersRead, "read members")?;
    let limit = page.limit()?;
    let mut conn = state.store.pool().acquire().await?;
    let rows =
        store::list_members(&mut conn, &caller.organization_id, page.starting_after.as_deref(), limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |m| m.user_id.clone()))
}

pub async fn add_member(state: &AppState, caller: &Caller, org: &str, req: NewMember) -> ApiResult<MembershipRecord> {
    require_members(caller, org, Permission::MembersWrite, "manage members")?;
    if req.role == Role::Owner {
        caller.require_owner_level("make someone an owner")?;
    }
    let member = MembershipRecord {
        organization_id: caller.organization_id,
        user_id: validate::user_id("user_id", &req.user_id)?,
        role: req.role.as_str().into(),
        created_at: state.config.clock.now_ms(),
    };
    let already = || ApiError::conflict(format!("user `{}` is already a member", member.user_id));
    let mut tx = state.store.begin().await?;
    lock_org(&mut tx, &member.organization_id).await?;
    if store::get_membership(&mut tx, &member.organization_id, &member.user_id).await?.is_some() {
        return Err(already());
    }
    store::insert_membership(&mut tx, &member)
        .await
        .map_err(|e| if store::is_unique_violation(&e) { already() } else { e.into() })?;
    store::insert_audit(
        &mut tx,
        &caller.audit("member.added", "user", &member.user_id, json!({"after": {"role": member.role}})),
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// Gives member `user` role `role`; the last owner cannot be demoted (409).
pub async fn update_member(
    state: &AppState,
    caller: &Caller,
    org: &str,
    user: &str,
    role: Role,
) -> ApiResult<MembershipRecord> {
    require_members(caller, org, Permission::MembersWrite, "manage members")?;
    let mut tx = state.store.begin().await?;
    lock_org(&mut tx, &caller.organization_id).await?;
    let before =
        store::get_membership(&mut tx, &caller.organization_id, user).await?.ok_or(ApiError::NotFound("member"))?;
    let was_owner = before.role == Role::Owner.as_str();
    if role == Role::Owner && !was_owner {
        caller.require_owner_level("make someone an owner")?;
    }
    if was_owner && role != Role::Owner {
        caller.require_owner_level("demote an owner")?;
        if store::count_owners(&mut tx, &caller.organization_id).await? <= 1 {
            return Err(ApiError::conflict("cannot demote the last owner: make someone else an owner first"));
        }
    }
    let mut after = before.clone();
    after.role = role.as_str().into();
    store::update_membership_role(&mut tx, &caller.organization_id, user, &after.role).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "member.updated",
            "user",
            user,
            json!({"before": {"role": before.role}, "after": {"role": after.role}}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Removes member `user`; the last owner cannot be removed (409).
pub async fn remove_member(state: &AppState, caller: &Caller, org: &str, user: &str) -> ApiResult<()> {
    require_members(caller, org, Permission::MembersWrite, "manage members")?;
    let mut tx = state.store.begin().await?;
    lock_org(&mut tx, &caller.organization_id).await?;
    let before =
        store::get_membership(&mut tx, &caller.organization_id, user).await?.ok_or(ApiError::NotFound("member"))?;
    if before.role == Role::Owner.as_str() {
        caller.require_owner_level("remove an owner")?;
        if store::count_owners(&mut tx, &caller.organization_id).await? <= 1 {
            return Err(ApiError::conflict("cannot remove the last owner: make someone else an owner first"));
        }
    }
    store::delete_membership(&mut tx, &caller.organization_id, user).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit("member.removed", "user", user, json!({"before": {"role": before.role}})),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
