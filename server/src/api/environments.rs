//! `/v1/projects/{id}/environments`: the HTTP face of the environment use
//! cases (`app/environments.rs`). Environments belong to the organization
//! (`live` and `test` by default: `docs/architecture.md#domain`); these routes
//! list and create the environments of the project's organization.

use super::{PageQuery, list_response};
use crate::{
    app::AppState,
    app::environments,
    auth::Caller,
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath},
};
use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use crate::app::environments::Environment;

const TAG: &str = "environments";

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
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = environments::list_environments(&state, &caller, id, &page_query).await?.map(Environment::from);
    Ok(list_response(&format!("/v1/projects/{id}/environments"), page, q.limit, &[]))
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
    let env = environments::create_environment(&state, &caller, id, &req.name).await?;
    Ok((StatusCode::CREATED, Json(Environment::from(&env))))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_environments, create_environment))
}
