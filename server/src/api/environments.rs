//! `/v1/projects/{id}/environments`: environments belong to the organization
//! (`live` and `test` by default: `docs/architecture.md#domain`); these routes list and create the
//! environments of the project's organization.

use super::{Page, PageQuery, api_keys::ms_to_time, pagination_headers, validate};
use crate::{
    app::AppState,
    app::projects::load_visible_project,
    auth::{Caller, Permission},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath},
    store::{self, EnvironmentRecord, now_ms},
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

const TAG: &str = "environments";

/// A label keys carry and verify returns (e.g. `live`, `test`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a3c1-0000-7000-8000-000000000002", "organization_id": "0193a3c1-0000-7000-8000-000000000001", "name": "staging", "created_at": "2026-11-23T12:00:00Z"}))]
pub struct Environment {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// 1-16 lowercase letters or digits.
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "staging"}))]
pub struct CreateEnvironmentRequest {
    /// 1-16 lowercase letters or digits, unique in the organization.
    #[schema(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEnvironmentsQuery {
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor from `X-Next-Cursor`.
    pub starting_after: Option<Uuid>,
}

fn env_dto(e: &EnvironmentRecord) -> Environment {
    Environment {
        id: Uuid::parse_str(&e.id).unwrap_or_default(),
        organization_id: Uuid::parse_str(&e.organization_id).unwrap_or_default(),
        name: e.name.clone(),
        created_at: ms_to_time(e.created_at),
    }
}

/// List environments
///
/// The environments of the project's organization, newest first.
#[utoipa::path(get, path = "/v1/projects/{id}/environments", tag = TAG, operation_id = "list_environments",
    params(("id" = Uuid, Path, description = "Project id"), ListEnvironmentsQuery),
    responses(
        (status = 200, description = "A page of environments", body = Vec<Environment>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such project in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<ListEnvironmentsQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::EnvironmentsRead)?;
    let project = load_visible_project(&state, &caller, id).await?;
    let limit = PageQuery { limit: q.limit, starting_after: q.starting_after }.limit()?;
    let after = q.starting_after.map(|u| u.to_string());
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_environments(&mut conn, &project.organization_id, after.as_deref(), limit + 1).await?;
    let page = Page::from_rows(rows.iter().map(env_dto).collect(), limit, |e| e.id.to_string());
    let headers =
        pagination_headers(&format!("/v1/projects/{id}/environments"), page.next_cursor.as_deref(), q.limit, &[]);
    Ok((headers, Json(page.items)).into_response())
}

/// Create an environment
///
/// Creates an environment in the project's organization (environments are
/// shared by all its projects).
#[utoipa::path(post, path = "/v1/projects/{id}/environments", tag = TAG, operation_id = "create_environment",
    params(("id" = Uuid, Path, description = "Project id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = CreateEnvironmentRequest,
    responses(
        (status = 201, description = "Created", body = Environment),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an admin / missing the `orgs:admin` scope, or a project key", body = ErrorBody),
        (status = 404, description = "No such project in this organization", body = ErrorBody),
        (status = 409, description = "An environment with this name exists", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<CreateEnvironmentRequest>,
) -> ApiResult<(StatusCode, Json<Environment>)> {
    caller.require(Permission::EnvironmentsWrite)?;
    caller.require_org_level("create environments")?;
    let project = load_visible_project(&state, &caller, id).await?;
    let env = EnvironmentRecord {
        id: Uuid::now_v7().to_string(),
        organization_id: project.organization_id.clone(),
        name: validate::environment_name("name", &req.name)?,
        created_at: now_ms(),
    };
    let conflict = || ApiError::conflict(format!("an environment named `{}` already exists", env.name));
    let mut tx = state.store.begin().await?;
    if store::find_environment(&mut tx, &env.organization_id, &env.name).await?.is_some() {
        return Err(conflict());
    }
    store::insert_environment(&mut tx, &env)
        .await
        .map_err(|e| if store::is_unique_violation(&e) { conflict() } else { e.into() })?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "environment.created",
            "environment",
            &env.id,
            json!({"after": {"name": env.name}, "project_id": project.id}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(env_dto(&env))))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_environments, create_environment))
}
