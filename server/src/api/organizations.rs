//! `/v1/organizations` and `/v1/organizations/{org}/members`: tenants and who
//! belongs to them (`docs/architecture.md#domain`, `docs/roles.md`).

use super::{PageQuery, list_response};
use crate::{
    app::AppState,
    app::members::{self, NewMember},
    app::organizations::{self, NewOrganization, OrganizationChanges},
    auth::{
        Caller,
        tenancy::{Principal, Role},
    },
    error::{ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use crate::app::{members::Member, organizations::Organization};

pub const TAG: &str = "organizations";
pub const MEMBERS_TAG: &str = "members";

// ---------------------------------------------------------------- DTOs

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Acme", "key_prefix": "acme"}))]
pub struct CreateOrganizationRequest {
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// 2-8 lowercase letters or digits (default `kw`).
    #[schema(min_length = 2, max_length = 8, pattern = r"^[a-z0-9]{2,8}$")]
    pub key_prefix: Option<String>,
}

/// Partial update: absent fields are left alone.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub name: Option<String>,
    /// 2-8 lowercase letters or digits; applies to keys created from now on.
    #[schema(nullable = false, min_length = 2, max_length = 8, pattern = r"^[a-z0-9]{2,8}$")]
    #[serde(default, deserialize_with = "super::not_null::deserialize")]
    pub key_prefix: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"user_id": "user_2abc", "role": "member"}))]
pub struct AddMemberRequest {
    /// The user's id (their session JWT `sub`); 1-255 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "admin"}))]
pub struct UpdateMemberRequest {
    pub role: Role,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListOrganizationsQuery {
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor: the id of the last organization of the previous page (from `X-Next-Cursor`).
    pub starting_after: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListMembersQuery {
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor: the user id of the last member of the previous page (from `X-Next-Cursor`).
    pub starting_after: Option<String>,
}

// ---------------------------------------------------------------- to the use cases

impl From<CreateOrganizationRequest> for NewOrganization {
    fn from(r: CreateOrganizationRequest) -> Self {
        NewOrganization { name: r.name, key_prefix: r.key_prefix }
    }
}

impl From<UpdateOrganizationRequest> for OrganizationChanges {
    fn from(r: UpdateOrganizationRequest) -> Self {
        OrganizationChanges { name: r.name, key_prefix: r.key_prefix }
    }
}

impl From<AddMemberRequest> for NewMember {
    fn from(r: AddMemberRequest) -> Self {
        NewMember { user_id: r.user_id, role: r.role }
    }
}

// ---------------------------------------------------------------- organizations

/// List organizations
///
/// A session lists the organizations the user belongs to (with their role),
/// newest first; an API key lists only its own organization.
#[utoipa::path(get, path = "/v1/organizations", tag = TAG, operation_id = "list_organizations",
    params(ListOrganizationsQuery),
    responses(
        (status = 200, description = "A page of organizations", body = Vec<Organization>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "An API key without the `orgs:admin` scope", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_organizations(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<ListOrganizationsQuery>,
) -> ApiResult<Response> {
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = organizations::list_organizations(&state, &principal, &page_query).await?;
    Ok(list_response("/v1/organizations", page, q.limit, &[]))
}

/// Create an organization
///
/// The calling user becomes its owner; the `live` and `test` environments are
/// created with it. Only a user session can create organizations.
#[utoipa::path(post, path = "/v1/organizations", tag = TAG, operation_id = "create_organization",
    request_body = CreateOrganizationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h when repeated with the same body")),
    responses(
        (status = 201, description = "Created; the caller is its owner", body = Organization),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "An API key (only users can create organizations)", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused with a different body", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_organization(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<CreateOrganizationRequest>,
) -> ApiResult<(StatusCode, Json<Organization>)> {
    let org = organizations::create_organization(&state, &principal, req.into()).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// Get an organization
///
/// The caller's own organization, with the caller's role in it; any other id answers 404.
#[utoipa::path(get, path = "/v1/organizations/{org}", tag = TAG, operation_id = "get_organization",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization", body = Organization),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "An API key without the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such organization, or not yours", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<Json<Organization>> {
    Ok(Json(organizations::get_organization(&state, &caller, &org).await?))
}

/// Update an organization
///
/// Owners (or an `orgs:admin` key) may rename it or change its default key prefix.
#[utoipa::path(patch, path = "/v1/organizations/{org}", tag = TAG, operation_id = "update_organization",
    params(("org" = Uuid, Path, description = "Organization id")),
    request_body = UpdateOrganizationRequest,
    responses(
        (status = 200, description = "The updated organization", body = Organization),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an owner / missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such organization, or not yours", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(req): ApiJson<UpdateOrganizationRequest>,
) -> ApiResult<Json<Organization>> {
    Ok(Json(organizations::update_organization(&state, &caller, &org, req.into()).await?))
}

/// Delete an organization
///
/// Revokes every key of the organization, then soft-deletes it: it no longer
/// appears anywhere and its keys no longer verify.
#[utoipa::path(delete, path = "/v1/organizations/{org}", tag = TAG, operation_id = "delete_organization",
    params(("org" = Uuid, Path, description = "Organization id")),
    responses(
        (status = 204, description = "Deleted; all its keys are revoked"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an owner session or a `*` key (`insufficient_scope` for a narrower key)", body = ErrorBody),
        (status = 404, description = "No such organization, or not yours", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn delete_organization(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> ApiResult<StatusCode> {
    organizations::delete_organization(&state, &caller, &org).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- members

/// List members
///
/// Newest first (by when they joined).
#[utoipa::path(get, path = "/v1/organizations/{org}/members", tag = MEMBERS_TAG, operation_id = "list_members",
    params(("org" = Uuid, Path, description = "Organization id"), ListMembersQuery),
    responses(
        (status = 200, description = "A page of members", body = Vec<Member>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "An API key without the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such organization, or not yours", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(q): ApiQuery<ListMembersQuery>,
) -> ApiResult<Response> {
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = members::list_members(&state, &caller, &org, &page_query).await?.map(Member::from);
    Ok(list_response(&format!("/v1/organizations/{}/members", caller.organization_id), page, q.limit, &[]))
}

/// Add a member
///
/// Adds a user (by their session `sub`) with a role. Owners only (or an `orgs:admin` key).
#[utoipa::path(post, path = "/v1/organizations/{org}/members", tag = MEMBERS_TAG, operation_id = "add_member",
    params(("org" = Uuid, Path, description = "Organization id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "Added", body = Member),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an owner / missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such organization, or not yours", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let member = members::add_member(&state, &caller, &org, req.into()).await?;
    Ok((StatusCode::CREATED, Json(Member::from(&member))))
}

/// Change a member's role
///
/// The last owner cannot be demoted (409).
#[utoipa::path(patch, path = "/v1/organizations/{org}/members/{user_id}", tag = MEMBERS_TAG, operation_id = "update_member",
    params(("org" = Uuid, Path, description = "Organization id"), ("user_id" = String, Path, description = "The member's user id")),
    request_body = UpdateMemberRequest,
    responses(
        (status = 200, description = "The updated membership", body = Member),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an owner / missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such organization or member", body = ErrorBody),
        (status = 409, description = "Would leave the organization without an owner", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
    ApiJson(req): ApiJson<UpdateMemberRequest>,
) -> ApiResult<Json<Member>> {
    Ok(Json(Member::from(&members::update_member(&state, &caller, &org, &user, req.role).await?)))
}

/// Remove a member
///
/// The last owner cannot be removed (409).
#[utoipa::path(delete, path = "/v1/organizations/{org}/members/{user_id}", tag = MEMBERS_TAG, operation_id = "remove_member",
    params(("org" = Uuid, Path, description = "Organization id"), ("user_id" = String, Path, description = "The member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Not an owner / missing the `orgs:admin` scope", body = ErrorBody),
        (status = 404, description = "No such organization or member", body = ErrorBody),
        (status = 409, description = "Would leave the organization without an owner", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    members::remove_member(&state, &caller, &org, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_organizations, create_organization))
        .routes(routes!(get_organization, update_organization, delete_organization))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
}
