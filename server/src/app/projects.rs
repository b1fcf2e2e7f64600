//! Projects: list, create, read, change and delete the projects of the
//! caller's organization. A project groups keys, may override the
//! organization's key prefix and holds the defaults and policies of its new
//! keys (`docs/architecture.md#domain`). A change is a compare-and-swap on
//! `updated_at` (`docs/architecture.md#storage`); a deletion revokes the
//! project's keys, each announced as a revoke through the API
//! (`docs/architecture.md#the-unit-of-work-for-a-key-change`).

use crate::domain::ids::ProjectId;
use crate::{
    app::{
        AppState,
        caller::Caller,
        cas::compare_and_swap,
        keys::{ChangedBy, revoke_all_in},
        pagination::{Page, PageQuery},
        validate,
    },
    domain::{
        access::Permission,
        keys::{RateLimit, json_list},
        projects::{DEFAULT_WARNING_DAYS, LeakPolicy},
        time::ms_to_time,
    },
    error::{ApiError, ApiResult},
    store::{self, ProjectRecord},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

// ---------------------------------------------------------------- the project as shown

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    /// Overrides the organization's key prefix for this project's keys.
    pub key_prefix: Option<String>,
    /// Scopes given to new keys that name none.
    pub default_scopes: Option<Vec<String>>,
    pub default_rate_limit: Option<RateLimit>,
    /// New keys expire this many seconds after creation unless they say otherwise.
    pub default_ttl_seconds: Option<u64>,
    /// Grace period used by rotations that do not give one.
    pub default_grace_period_seconds: Option<u64>,
    /// Days before a key's `expires_at` / `next_rotation_at` that `api_key.expiring` /
    /// `api_key.rotation_due` go out (0: never).
    pub expiry_warning_days: u32,
    pub leak_policy: LeakPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&ProjectRecord> for Project {
    fn from(p: &ProjectRecord) -> Self {
        Project {
            id: p.id.uuid(),
            organization_id: p.organization_id.uuid(),
            name: p.name.clone(),
            key_prefix: p.key_prefix.clone(),
            default_scopes: p.default_scopes.as_deref().map(json_list),
            default_rate_limit: p.default_rate_limit.as_deref().and_then(|t| serde_json::from_str(t).ok()),
            default_ttl_seconds: p.default_ttl_seconds.map(|v| v as u64),
            default_grace_period_seconds: p.default_grace_period_seconds.map(|v| v as u64),
            expiry_warning_days: p.expiry_warning_days.map_or(DEFAULT_WARNING_DAYS as u32, |d| d as u32),
            leak_policy: LeakPolicy::parse(p.leak_policy.as_deref()),
            created_at: ms_to_time(p.created_at),
            updated_at: ms_to_time(p.updated_at),
        }
    }
}

// ---------------------------------------------------------------- inputs

/// A project to create, as a caller asks for it. Unset defaults stay unset.
#[derive(Debug, Default, Clone)]
pub struct NewProject {
    pub name: String,
    pub key_prefix: Option<String>,
    pub default_scopes: Option<Vec<String>>,
    pub default_rate_limit: Option<RateLimit>,
    pub default_ttl_seconds: Option<u64>,
    pub default_grace_period_seconds: Option<u64>,
    pub expiry_warning_days: Option<u32>,
    pub leak_policy: Option<LeakPolicy>,
}

/// A partial change: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub key_prefix: Option<Option<String>>,
    pub default_scopes: Option<Option<Vec<String>>>,
    pub default_rate_limit: Option<Option<RateLimit>>,
    pub default_ttl_seconds: Option<Option<u64>>,
    pub default_grace_period_seconds: Option<Option<u64>>,
    pub expiry_warning_days: Option<u32>,
    pub leak_policy: Option<LeakPolicy>,
}

const MAX_TTL_SECONDS: u64 = 10 * 365 * 86_400;
const MAX_GRACE_SECONDS: u64 = 365 * 86_400;

fn set_policies(p: &mut ProjectRecord, warning_days: Option<u32>, leak_policy: Option<LeakPolicy>) -> ApiResult<()> {
    if let Some(days) = warning_days {
        p.expiry_warning_days = Some(validate::in_range("expiry_warning_days", days.into(), 0, 365)?);
    }
    if let Some(policy) = leak_policy {
        p.leak_policy = Some(policy.as_str().to_string());
    }
    Ok(())
}

fn set_defaults(
    p: &mut ProjectRecord,
    scopes: Option<Option<&Vec<String>>>,
    rate_limit: Option<Option<&RateLimit>>,
    ttl: Option<Option<u64>>,
    grace: Option<Option<u64>>,
) -> ApiResult<()> {
    if let Some(scopes) = scopes {
        p.default_scopes =
            scopes.map(|s| validate::scopes("default_scopes", s)).transpose()?.map(|s| json!(s).to_string());
    }
    if let Some(rl) = rate_limit {
        if let Some(rl) = rl {
            validate::in_range("default_rate_limit.limit", rl.limit, 1, 1_000_000_000)?;
            validate::in_range("default_rate_limit.window_ms", rl.window_ms, 1_000, 86_400_000)?;
        }
        p.default_rate_limit = rl.map(|rl| json!(rl).to_string());
    }
    if let Some(ttl) = ttl {
        p.default_ttl_seconds =
            ttl.map(|t| validate::in_range("default_ttl_seconds", t, 60, MAX_TTL_SECONDS)).transpose()?;
    }
    if let Some(grace) = grace {
        p.default_grace_period_seconds =
            grace.map(|g| validate::in_range("default_grace_period_seconds", g, 0, MAX_GRACE_SECONDS)).transpose()?;
    }
    Ok(())
}

async fn ensure_prefix_free(conn: &mut store::Conn, p: &ProjectRecord) -> ApiResult<()> {
    if let Some(prefix) = &p.key_prefix
        && store::project_prefix_taken(conn, &p.organization_id, prefix, &p.id).await?
    {
        return Err(ApiError::conflict(format!("key_prefix: `{prefix}` is already used by another project")));
    }
    Ok(())
}

// ---------------------------------------------------------------- use cases

/// Loads a project the caller may see, or answers 404 (never 403: no enumeration).
pub async fn load_visible_project(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<ProjectRecord> {
    let mut conn = state.store.pool().acquire().await?;
    visible_project(&mut conn, caller, id).await
}

/// Project `id` of the caller's organization, read on `conn` (a transaction
/// of the caller's); 404 when it does not exist or the caller is confined to
/// another project.
pub async fn visible_project(conn: &mut store::Conn, caller: &Caller, id: Uuid) -> ApiResult<ProjectRecord> {
    let id = ProjectId::from(id);
    if !caller.can_see_project(Some(id)) {
        return Err(ApiError::NotFound("project"));
    }
    store::get_project(conn, &caller.organization_id, &id).await?.ok_or(ApiError::NotFound("project"))
}

/// A page of the projects the caller can see (a project key: its own), newest first.
pub async fn list_projects(state: &AppState, caller: &Caller, page: &PageQuery) -> ApiResult<Page<ProjectRecord>> {
    caller.require(Permission::ProjectsRead)?;
    let limit = page.limit()?;
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_projects(&mut conn, &caller.organization_id, page.after().as_deref(), limit + 1).await?;
    let rows = rows.into_iter().filter(|p| caller.can_see_project(Some(p.id))).collect();
    Ok(Page::from_rows(rows, limit, |p| p.id.to_string()))
}

pub async fn create_project(state: &AppState, caller: &Caller, req: NewProject) -> ApiResult<ProjectRecord> {
    caller.require(Permission::ProjectsWrite)?;
    caller.require_org_level("create projects")?;
    let now = state.config.clock.now_ms();
    let mut project = ProjectRecord {
        id: ProjectId::new(),
        organization_id: caller.organization_id,
        name: validate::name("name", &req.name)?,
        key_prefix: req.key_prefix.as_deref().map(|p| validate::key_prefix("key_prefix", p)).transpose()?,
        default_scopes: None,
        default_rate_limit: None,
        default_ttl_seconds: None,
        default_grace_period_seconds: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        expiry_warning_days: None,
        leak_policy: None,
    };
    set_policies(&mut project, req.expiry_warning_days, req.leak_policy)?;
    set_defaults(
        &mut project,
        Some(req.default_scopes.as_ref()),
        Some(req.default_rate_limit.as_ref()),
        Some(req.default_ttl_seconds),
        Some(req.default_grace_period_seconds),
    )?;
    let mut tx = state.store.begin().await?;
    ensure_prefix_free(&mut tx, &project).await?;
    store::insert_project(&mut tx, &project).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit("project.created", "project", project.id, json!({"after": Project::from(&project)})),
    )
    .await?;
    tx.commit().await?;
    Ok(project)
}

pub async fn get_project(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<ProjectRecord> {
    caller.require(Permission::ProjectsRead)?;
    load_visible_project(state, caller, id).await
}

/// Applies `req` to the project as it is now: a PATCH that lost a race with a
/// delete or another PATCH reads again (and then 404s or applies to the
/// newer state) instead of writing back what it read before.
pub async fn update_project(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    req: ProjectChanges,
) -> ApiResult<ProjectRecord> {
    caller.require(Permission::ProjectsWrite)?;
    let req = &req;
    compare_and_swap("project", move || apply_changes(state, caller, id, req)).await
}

/// Reads the project and writes `req` over it; `None` when the row changed
/// in between.
async fn apply_changes(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    req: &ProjectChanges,
) -> ApiResult<Option<ProjectRecord>> {
    let before = &load_visible_project(state, caller, id).await?;
    let mut project = before.clone();
    if let Some(name) = &req.name {
        project.name = validate::name("name", name)?;
    }
    if let Some(prefix) = &req.key_prefix {
        project.key_prefix = prefix.as_deref().map(|p| validate::key_prefix("key_prefix", p)).transpose()?;
    }
    set_defaults(
        &mut project,
        req.default_scopes.as_ref().map(Option::as_ref),
        req.default_rate_limit.as_ref().map(Option::as_ref),
        req.default_ttl_seconds,
        req.default_grace_period_seconds,
    )?;
    set_policies(&mut project, req.expiry_warning_days, req.leak_policy)?;
    project.updated_at = state.config.clock.now_ms().max(before.updated_at + 1);
    let mut tx = state.store.begin().await?;
    ensure_prefix_free(&mut tx, &project).await?;
    if !store::update_project(&mut tx, &project, before.updated_at).await? {
        return Ok(None);
    }
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "project.updated",
            "project",
            project.id,
            json!({"before": Project::from(before), "after": Project::from(&project)}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(project))
}

/// Revokes every key of the project, then soft-deletes it, in one transaction.
pub async fn delete_project(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<()> {
    caller.require(Permission::ProjectsWrite)?;
    caller.require_org_level("delete projects")?;
    let before = load_visible_project(state, caller, id).await?;
    let now = state.config.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let by = ChangedBy::Caller(caller);
    let (hashes, revoked) =
        revoke_all_in(&mut tx, by, &caller.organization_id, Some(&before.id), "project_deleted", now).await?;
    if !store::soft_delete_project(&mut tx, &caller.organization_id, &before.id, now).await? {
        return Err(ApiError::NotFound("project"));
    }
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "project.deleted",
            "project",
            before.id,
            json!({"before": Project::from(&before), "revoked_keys": revoked}),
        ),
    )
    .await?;
    tx.commit().await?;
    for hash in &hashes {
        state.keys.invalidate(hash).await;
    }
    Ok(())
}
