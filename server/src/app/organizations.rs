//! Organizations (tenants): list, create, read, change and delete them
//! (`docs/architecture.md#domain`, `docs/roles.md`). A session without an
//! organization may list and create (it becomes the owner); everything else
//! acts on the caller's own organization, and another one answers 404.
//! Deleting an organization revokes every key of it, each announced as a
//! revoke through the API
//! (`docs/architecture.md#the-unit-of-work-for-a-key-change`).

use crate::domain::ids::OrgId;
use crate::{
    app::{
        AppState,
        caller::{Caller, Principal},
        keys::{ChangedBy, revoke_all_in},
        pagination::{Page, PageQuery},
        validate,
    },
    bootstrap::{self, DEFAULT_ORG_PREFIX},
    domain::{
        access::{Permission, Role},
        time::ms_to_time,
    },
    error::{ApiError, ApiResult},
    store::{self, MembershipRecord, OrgRecord},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a3c1-0000-7000-8000-000000000001", "name": "Acme", "key_prefix": "acme",
    "created_at": "2026-11-23T12:00:00Z", "updated_at": "2026-11-23T12:00:00Z", "role": "owner"
}))]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    /// Default prefix of the organization's keys (projects may override it).
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The calling user's role; null for an API-key caller.
    pub role: Option<Role>,
}

impl Organization {
    /// `o` as shown to a caller whose role in it is `role`.
    pub fn new(o: &OrgRecord, role: Option<Role>) -> Self {
        Organization {
            id: o.id.uuid(),
            name: o.name.clone(),
            key_prefix: o.key_prefix.clone(),
            created_at: ms_to_time(o.created_at),
            updated_at: ms_to_time(o.updated_at),
            role,
        }
    }
}

/// An organization to create: its name and default key prefix (`kw` unless given).
#[derive(Debug, Default, Clone)]
pub struct NewOrganization {
    pub name: String,
    pub key_prefix: Option<String>,
}

/// A partial change: `None` leaves a field alone.
#[derive(Debug, Default, Clone)]
pub struct OrganizationChanges {
    pub name: Option<String>,
    pub key_prefix: Option<String>,
}

/// The caller's organization, or 404 when it is gone.
async fn load_org(state: &AppState, caller: &Caller) -> ApiResult<OrgRecord> {
    let mut conn = state.store.pool().acquire().await?;
    store::get_org(&mut conn, &caller.organization_id).await?.ok_or(ApiError::NotFound("organization"))
}

/// Locks the organization's row for the rest of `tx`, so writes that count or
/// check its members (or delete it) run one after the other; 404 when it is gone.
pub async fn lock_org(tx: &mut store::Conn, organization_id: &OrgId) -> ApiResult<()> {
    if !store::lock_org(tx, organization_id).await? {
        return Err(ApiError::NotFound("organization"));
    }
    Ok(())
}

/// A page of organizations, newest first: a session's memberships (with its
/// role in each), or an API key's own organization.
pub async fn list_organizations(
    state: &AppState,
    principal: &Principal,
    page: &PageQuery,
) -> ApiResult<Page<Organization>> {
    let limit = page.limit()?;
    let after = page.after();
    match principal {
        Principal::Key(caller) => {
            caller.require(Permission::OrgRead)?;
            let org = load_org(state, caller).await?;
            let rows = if after.as_deref().is_some_and(|a| org.id.to_string().as_str() >= a) {
                vec![]
            } else {
                vec![Organization::new(&org, None)]
            };
            Ok(Page::from_rows(rows, limit, |o| o.id.to_string()))
        }
        Principal::User(user) => {
            let mut conn = state.store.pool().acquire().await?;
            let rows = store::list_user_orgs(&mut conn, &user.user_id, after.as_deref(), limit + 1).await?;
            let rows = rows.iter().map(|r| Organization::new(&r.org(), Role::parse(&r.role))).collect();
            Ok(Page::from_rows(rows, limit, |o| o.id.to_string()))
        }
    }
}

/// Creates an organization with its `live` and `test` environments; the
/// calling user becomes its owner. Only a session may (a key has an organization).
pub async fn create_organization(
    state: &AppState,
    principal: &Principal,
    req: NewOrganization,
) -> ApiResult<Organization> {
    let Principal::User(user) = principal else {
        return Err(ApiError::forbidden(
            "only a user session can create organizations (an API key belongs to one already)",
        ));
    };
    let name = validate::name("name", &req.name)?;
    let prefix = match &req.key_prefix {
        Some(p) => validate::key_prefix("key_prefix", p)?,
        None => DEFAULT_ORG_PREFIX.to_string(),
    };
    let mut tx = state.store.begin().await?;
    let org = bootstrap::insert_org_with_defaults(&mut tx, &name, &prefix).await?;
    store::insert_membership(
        &mut tx,
        &MembershipRecord {
            organization_id: org.id,
            user_id: user.user_id.clone(),
            role: Role::Owner.as_str().into(),
            created_at: org.created_at,
        },
    )
    .await?;
    store::insert_audit(
        &mut tx,
        &user.audit(
            org.id,
            "organization.created",
            "organization",
            org.id,
            json!({"after": {"name": org.name, "key_prefix": org.key_prefix}, "owner": user.user_id}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Organization::new(&org, Some(Role::Owner)))
}

pub async fn get_organization(state: &AppState, caller: &Caller, org: &str) -> ApiResult<Organization> {
    caller.require_organization(org)?;
    caller.require(Permission::OrgRead)?;
    Ok(Organization::new(&load_org(state, caller).await?, caller.role()))
}

pub async fn update_organization(
    state: &AppState,
    caller: &Caller,
    org: &str,
    req: OrganizationChanges,
) -> ApiResult<Organization> {
    caller.require_organization(org)?;
    caller.require(Permission::OrgWrite)?;
    caller.require_org_level("change the organization")?;
    let before = load_org(state, caller).await?;
    let mut after = before.clone();
    if let Some(name) = &req.name {
        after.name = validate::name("name", name)?;
    }
    if let Some(prefix) = &req.key_prefix {
        after.key_prefix = validate::key_prefix("key_prefix", prefix)?;
    }
    after.updated_at = state.config.clock.now_ms();
    let mut tx = state.store.begin().await?;
    store::update_org(&mut tx, &after).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "organization.updated",
            "organization",
            after.id,
            json!({"before": {"name": before.name, "key_prefix": before.key_prefix}, "after": {"name": after.name, "key_prefix": after.key_prefix}}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Organization::new(&after, caller.role()))
}

/// Revokes every key of the organization, then soft-deletes it, in one transaction.
pub async fn delete_organization(state: &AppState, caller: &Caller, org: &str) -> ApiResult<()> {
    caller.require_organization(org)?;
    caller.require(Permission::OrgWrite)?;
    caller.require_org_level("delete the organization")?;
    caller.require_owner_level("delete the organization")?;
    let before = load_org(state, caller).await?;
    let now = state.config.clock.now_ms();
    let mut tx = state.store.begin().await?;
    lock_org(&mut tx, &before.id).await?;
    let by = ChangedBy::Caller(caller);
    let (hashes, revoked) = revoke_all_in(&mut tx, by, &before.id, None, "organization_deleted", now).await?;
    store::soft_delete_org(&mut tx, &before.id, now).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "organization.deleted",
            "organization",
            before.id,
            json!({"before": {"name": before.name, "key_prefix": before.key_prefix}, "revoked_keys": revoked}),
        ),
    )
    .await?;
    tx.commit().await?;
    for hash in &hashes {
        state.keys.invalidate(hash).await;
    }
    Ok(())
}
