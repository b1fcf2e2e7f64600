//! `/v1/projects`: the HTTP face of the project use cases (`app/projects.rs`):
//! the request bodies and their mapping to `NewProject`/`ProjectChanges`, the
//! handlers and the router. Projects group keys, may override the org's key
//! prefix and hold defaults for new keys.

use super::{PageQuery, list_response, nullable, validate};
use crate::{
    app::AppState,
    app::projects::{self, NewProject, ProjectChanges},
    auth::Caller,
    domain::{keys::RateLimit, projects::LeakPolicy},
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath},
};
use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use crate::app::projects::Project;

const TAG: &str = "projects";

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
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
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
    #[schema(nullable = false, minimum = 0, maximum = 365)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub expiry_warning_days: Option<u32>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
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

// ---------------------------------------------------------------- to the use cases

impl From<CreateProjectRequest> for NewProject {
    fn from(r: CreateProjectRequest) -> Self {
        NewProject {
            name: r.name,
            key_prefix: r.key_prefix,
            default_scopes: r.default_scopes,
            default_rate_limit: r.default_rate_limit,
            default_ttl_seconds: r.default_ttl_seconds,
            default_grace_period_seconds: r.default_grace_period_seconds,
            expiry_warning_days: r.expiry_warning_days,
            leak_policy: r.leak_policy,
        }
    }
}

impl From<UpdateProjectRequest> for ProjectChanges {
    fn from(r: UpdateProjectRequest) -> Self {
        ProjectChanges {
            name: r.name,
            key_prefix: r.key_prefix,
            default_scopes: r.default_scopes,
            default_rate_limit: r.default_rate_limit,
            default_ttl_seconds: r.default_ttl_seconds,
            default_grace_period_seconds: r.default_grace_period_seconds,
            expiry_warning_days: r.expiry_warning_days,
            leak_policy: r.leak_policy,
        }
    }
}

// ---------------------------------------------------------------- handlers

/// List projects
///
/// Newest first; a project key sees only its own project. The next page's cursor comes in `X-Next-Cursor` and `Link`.
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
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = projects::list_projects(&state, &caller, &page_query).await?.map(Project::from);
    Ok(list_response("/v1/projects", page, q.limit, &[]))
}

/// Create a project
///
/// A project groups keys and holds the defaults and policies of its new keys; a project key cannot create one.
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
    let project = projects::create_project(&state, &caller, req.into()).await?;
    Ok((StatusCode::CREATED, Json(Project::from(&project))))
}

/// Get a project
///
/// A project key sees only its own project; any other id answers 404.
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
    Ok(Json(Project::from(&projects::get_project(&state, &caller, id).await?)))
}

/// Update a project
///
/// Partial update: an absent field is left alone, `null` clears an optional default.
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
    Ok(Json(Project::from(&projects::update_project(&state, &caller, id, req.into()).await?)))
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
    projects::delete_project(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_projects, create_project)).routes(routes!(
        get_project,
        update_project,
        delete_project
    ))
}
