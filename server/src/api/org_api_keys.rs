//! `/v1/organizations/{org}/api-keys`: the organization-scoped key family, with
//! its own envelopes over the same `ApiKey` schema and the same lifecycle.

use super::{
    PageQuery,
    api_keys::{self, ApiKey, CreateApiKeyRequest},
};
use crate::{
    app::AppState,
    auth::Caller,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

const TAG: &str = "organization-api-keys";

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrganizationApiKeyList {
    pub api_keys: Vec<ApiKey>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

// No `Debug`: it holds a secret shown once.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct OrganizationCreatedApiKey {
    pub api_key: ApiKey,
    /// The full key. Shown exactly once: store it now.
    #[schema(format = Password)]
    pub plaintext_api_key: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokedApiKey {
    pub revoked: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListOrganizationApiKeysQuery {
    pub project_id: Option<Uuid>,
    /// Only keys of this environment.
    #[param(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub environment: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// List an organization's API keys
///
/// Newest first, in the `{api_keys, next_cursor}` envelope; pass `next_cursor` as `cursor` for the next page.
#[utoipa::path(get, path = "/v1/organizations/{org}/api-keys", tag = TAG, operation_id = "list_organization_api_keys",
    params(("org" = Uuid, Path, description = "Organization id"), ListOrganizationApiKeysQuery),
    responses(
        (status = 200, description = "A page of keys", body = OrganizationApiKeyList),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:read` scope", body = ErrorBody),
        (status = 404, description = "No such organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_organization_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(q): ApiQuery<ListOrganizationApiKeysQuery>,
) -> ApiResult<Json<OrganizationApiKeyList>> {
    caller.require_organization(&org)?;
    let page_query = PageQuery { limit: q.limit, starting_after: q.cursor };
    let page =
        crate::app::keys::list_keys(&state, &caller, q.project_id, q.environment.as_deref(), &page_query).await?;
    let page = page.map(ApiKey::from);
    Ok(Json(OrganizationApiKeyList { api_keys: page.items, next_cursor: page.next_cursor }))
}

/// Create an organization API key
///
/// The body and rules of `POST /v1/api-keys`, answered as `{api_key, plaintext_api_key}`; the plaintext is shown once.
#[utoipa::path(post, path = "/v1/organizations/{org}/api-keys", tag = TAG, operation_id = "create_organization_api_key",
    params(("org" = Uuid, Path, description = "Organization id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "Created; `plaintext_api_key` is shown once", body = OrganizationCreatedApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such organization or project", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_organization_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<OrganizationCreatedApiKey>)> {
    caller.require_organization(&org)?;
    let (key, plaintext) = api_keys::create_key(&state, &caller, req.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(OrganizationCreatedApiKey { api_key: ApiKey::from(&key), plaintext_api_key: plaintext }),
    ))
}

/// Revoke an organization API key
///
/// The key stops verifying at once. Idempotent: a key already revoked answers `{revoked: true}` too.
#[utoipa::path(delete, path = "/v1/organizations/{org}/api-keys/{id}", tag = TAG, operation_id = "revoke_organization_api_key",
    params(("org" = Uuid, Path, description = "Organization id"), ("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "Revoked (also when it already was)", body = RevokedApiKey),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such organization or key", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke_organization_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<Json<RevokedApiKey>> {
    caller.require_organization(&org)?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("api key"))?;
    api_keys::revoke_key(&state, &caller, id).await?;
    Ok(Json(RevokedApiKey { revoked: true }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_organization_api_keys, create_organization_api_key))
        .routes(routes!(revoke_organization_api_key))
}
