//! `/v1/projects`: projects group keys, may override the org's key prefix and
//! hold defaults for new keys.

use super::{
    Page, PageQuery,
    api_keys::{RateLimit, json_list, ms_to_time},
    nullable, pagination_headers, validate,
};
use crate::{
    app::AppState,
    app::keys::{ChangedBy, revoke_all_in},
    auth::{Caller, Permission},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath},
    store::{self, ProjectRecord, now_ms},
};
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

const TAG: &str = "projects";

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

/// What a leak report does to a matching key of the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeakPolicy {
    /// Revoke the key at once (the default).
    #[default]
    Revoke,
    /// Only record it: audit event and `api_key.leaked` webhook.
    Flag,
}

impl LeakPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoke => "revoke",
            Self::Flag => "flag",
        }
    }
    pub fn of(p: Option<&ProjectRecord>) -> Self {
        match p.and_then(|p| p.leak_policy.as_deref()) {
            Some("flag") => Self::Flag,
            _ => Self::Revoke,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Krossover", "key_prefix": "kros", "default_scopes": ["keys:verify"], "default_rate_limit": {"limit": 100, "window_ms": 60000}, "default_ttl_seconds": 7776000, "default_grace_period_seconds": 3600}))]
pub struct CreateProjectRequest {
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// 2-8 lowercase letters or digits, unique in the organization.
    #[schema(min_length = 2, max_length = 8, pattern = r"^[a-z0-9]{2,8}$")]
    pub key_prefix: Option<String>,
    /// Scopes given to new keys that name none: at most 100 (`[a-z0-9_:.*-]`, 1-100 characters each).
    #[schema(inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    pub default_scopes: Option<Vec<String>>,
    pub default_rate_limit: Option<RateLimit>,
    /// New keys expire this many seconds after creation: 60 s to 10 years.
    #[schema(minimum = 60, maximum = 315_360_000)]
    pub default_ttl_seconds: Option<u64>,
    /// Grace period of rotations that give none: 0 to 1 year.
    #[schema(minimum = 0, maximum = 31_536_000)]
    pub default_grace_period_seconds: Option<u64>,
    /// 0-365 (default 7; 0 turns the warnings off).
    #[schema(minimum = 0, maximum = 365)]
    pub expiry_warning_days: Option<u32>,
    /// Default `revoke`.
    pub leak_policy: Option<LeakPolicy>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: Option<String>,
    /// 2-8 lowercase letters or digits, unique in the organization; `null` clears it.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<String>, min_length = 2, max_length = 8, pattern = r"^[a-z0-9]{2,8}$")]
    pub key_prefix: Option<Option<String>>,
    /// At most 100 scopes (`[a-z0-9_:.*-]`, 1-100 characters each); `null` clears them.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    pub default_scopes: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<RateLimit>)]
    pub default_rate_limit: Option<Option<RateLimit>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// 60 s to 10 years; `null` clears it.
    #[schema(value_type = Option<u64>, minimum = 60, maximum = 315_360_000)]
    pub default_ttl_seconds: Option<Option<u64>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// 0 to 1 year; `null` clears it.
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 31_536_000)]
    pub default_grace_period_seconds: Option<Option<u64>>,
    /// 0-365; 0 turns the warnings off.
    #[schema(minimum = 0, maximum = 365)]
    pub expiry_warning_days: Option<u32>,
    pub leak_policy: Option<LeakPolicy>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListProjectsQuery {
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor from `X-Next-Cursor`.
    pub starting_after: Option<Uuid>,
}

impl From<&ProjectRecord> for Project {
    fn from(p: &ProjectRecord) -> Self {
        Project {
            id: Uuid::parse_str(&p.id).unwrap_or_default(),
            organization_id: Uuid::parse_str(&p.organization_id).unwrap_or_default(),
            name: p.name.clone(),
            key_prefix: p.key_prefix.clone(),
            default_scopes: p.default_scopes.as_deref().map(json_list),
            default_rate_limit: p.default_rate_limit.as_deref().and_then(|t| serde_json::from_str(t).ok()),
            default_ttl_seconds: p.default_ttl_seconds.map(|v| v as u64),
            default_grace_period_seconds: p.default_grace_period_seconds.map(|v| v as u64),
            expiry_warning_days: p
                .expiry_warning_days
                .map_or(crate::jobs::scheduler::DEFAULT_WARNING_DAYS as u32, |d| d as u32),
            leak_policy: LeakPolicy::of(Some(p)),
            created_at: ms_to_time(p.created_at),
            updated_at: ms_to_time(p.updated_at),
        }
    }
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

pub async fn load_visible_project(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<ProjectRecord> {
    let id = id.to_string();
    if !caller.can_see_project(Some(&id)) {
        return Err(ApiError::NotFound("project"));
    }
    let mut conn = state.store.pool().acquire().await?;
    store::get_project(&mut conn, &caller.organization_id, &id).await?.ok_or(ApiError::NotFound("project"))
}

/// List projects
#[utoipa::path(get, path = "/v1/projects", tag = TAG, operation_id = "list_projects",
    params(ListProjectsQuery),
    responses(
        (status = 200, description = "A page of projects", body = Vec<Project>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListProjectsQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::ProjectsRead)?;
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let limit = page_query.limit()?;
    let after = q.starting_after.map(|u| u.to_string());
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_projects(&mut conn, &caller.organization_id, after.as_deref(), limit + 1).await?;
    let rows = rows.into_iter().filter(|p| caller.can_see_project(Some(&p.id))).collect::<Vec<_>>();
    let page = Page::from_rows(rows.iter().map(Project::from).collect(), limit, |p| p.id.to_string());
    let headers = pagination_headers("/v1/projects", page.next_cursor.as_deref(), q.limit, &[]);
    Ok((headers, Json(page.items)).into_response())
}

/// Create a project
#[utoipa::path(post, path = "/v1/projects", tag = TAG, operation_id = "create_project",
    request_body = CreateProjectRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h when repeated with the same body")),
    responses(
        (status = 201, description = "Created", body = Project),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope, or a project key", body = ErrorBody),
        (status = 409, description = "key_prefix already used in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateProjectRequest>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    caller.require(Permission::ProjectsWrite)?;
    if caller.project_id.is_some() {
        return Err(ApiError::forbidden("a project key cannot create projects"));
    }
    let now = now_ms();
    let mut project = ProjectRecord {
        id: Uuid::now_v7().to_string(),
        organization_id: caller.organization_id.clone(),
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
        &caller.audit("project.created", "project", &project.id, json!({"after": Project::from(&project)})),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Project::from(&project))))
}

/// Get a project
#[utoipa::path(get, path = "/v1/projects/{id}", tag = TAG, operation_id = "get_project",
    params(("id" = Uuid, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such project in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<Json<Project>> {
    caller.require(Permission::ProjectsRead)?;
    Ok(Json(Project::from(&load_visible_project(&state, &caller, id).await?)))
}

/// Update a project
#[utoipa::path(patch, path = "/v1/projects/{id}", tag = TAG, operation_id = "update_project",
    params(("id" = Uuid, Path, description = "Project id")),
    request_body = UpdateProjectRequest,
    responses(
        (status = 200, description = "The updated project", body = Project),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such project in this organization", body = ErrorBody),
        (status = 409, description = "key_prefix already used in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update_project(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateProjectRequest>,
) -> ApiResult<Json<Project>> {
    caller.require(Permission::ProjectsWrite)?;
    // Compare-and-swap on `updated_at`: a PATCH that lost a race with a
    // delete or another PATCH reads again (and then 404s or applies to the
    // newer state) instead of writing back what it read before.
    for _ in 0..MAX_PATCH_ATTEMPTS {
        let before = load_visible_project(&state, &caller, id).await?;
        if let Some(project) = apply_update(&state, &caller, &before, &req).await? {
            return Ok(Json(Project::from(&project)));
        }
    }
    Err(ApiError::conflict("project is being changed concurrently; retry the request"))
}

const MAX_PATCH_ATTEMPTS: usize = 5;

/// Writes `req` over `before`; `None` when the row changed since it was read.
async fn apply_update(
    state: &AppState,
    caller: &Caller,
    before: &ProjectRecord,
    req: &UpdateProjectRequest,
) -> ApiResult<Option<ProjectRecord>> {
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
    project.updated_at = now_ms().max(before.updated_at + 1);
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
            &project.id,
            json!({"before": Project::from(before), "after": Project::from(&project)}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(project))
}

/// Delete a project
///
/// Revokes every key of the project, then soft-deletes it.
#[utoipa::path(delete, path = "/v1/projects/{id}", tag = TAG, operation_id = "delete_project",
    params(("id" = Uuid, Path, description = "Project id")),
    responses(
        (status = 204, description = "Deleted; its keys are revoked"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an admin / missing the `orgs:admin` scope, or a project key", body = ErrorBody),
        (status = 404, description = "No such project in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    caller.require(Permission::ProjectsWrite)?;
    caller.require_org_level("delete projects")?;
    let before = load_visible_project(&state, &caller, id).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let by = ChangedBy::Caller(&caller);
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
            &before.id,
            json!({"before": Project::from(&before), "revoked_keys": revoked}),
        ),
    )
    .await?;
    tx.commit().await?;
    for hash in &hashes {
        state.keys.invalidate(hash).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_projects, create_project)).routes(routes!(
        get_project,
        update_project,
        delete_project
    ))
}
