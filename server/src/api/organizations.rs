//! `/v1/organizations` and `/v1/organizations/{org}/members`: tenants and who
//! belongs to them (`docs/architecture.md#domain`, `docs/roles.md`).

use super::{Page, PageQuery, api_keys::ms_to_time, pagination_headers, validate};
use crate::{
    app::AppState,
    app::keys::ChangedBy,
    auth::tenancy::{Principal, Role},
    auth::{Actor, Caller, Permission},
    bootstrap::{self, DEFAULT_ORG_PREFIX},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery},
    store::{self, MembershipRecord, OrgRecord, now_ms},
};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub const TAG: &str = "organizations";
pub const MEMBERS_TAG: &str = "members";

// ---------------------------------------------------------------- DTOs

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
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: Option<String>,
    /// 2-8 lowercase letters or digits; applies to keys created from now on.
    #[schema(min_length = 2, max_length = 8, pattern = r"^[a-z0-9]{2,8}$")]
    pub key_prefix: Option<String>,
}

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

fn org_dto(o: &OrgRecord, role: Option<Role>) -> Organization {
    Organization {
        id: Uuid::parse_str(&o.id).unwrap_or_default(),
        name: o.name.clone(),
        key_prefix: o.key_prefix.clone(),
        created_at: ms_to_time(o.created_at),
        updated_at: ms_to_time(o.updated_at),
        role,
    }
}

fn member_dto(m: &MembershipRecord) -> Member {
    Member {
        organization_id: Uuid::parse_str(&m.organization_id).unwrap_or_default(),
        user_id: m.user_id.clone(),
        role: Role::parse(&m.role).unwrap_or(Role::Viewer),
        created_at: ms_to_time(m.created_at),
    }
}

fn caller_role(caller: &Caller) -> Option<Role> {
    match &caller.actor {
        Actor::User { role, .. } => Some(*role),
        Actor::ApiKey { .. } => None,
    }
}

/// The path's organization must be the caller's; any other answers 404.
pub fn check_org(caller: &Caller, org: &str) -> ApiResult<()> {
    if caller.organization_id != org {
        return Err(ApiError::NotFound("organization"));
    }
    Ok(())
}

fn user_id(field: &str, value: &str) -> ApiResult<String> {
    let len = value.chars().count();
    if value.trim().is_empty() || len > 255 || value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, "must be 1-255 printable characters"));
    }
    Ok(value.to_string())
}

async fn load_org(state: &AppState, caller: &Caller) -> ApiResult<OrgRecord> {
    let mut conn = state.store.pool().acquire().await?;
    store::get_org(&mut conn, &caller.organization_id).await?.ok_or(ApiError::NotFound("organization"))
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
    let limit = page_query.limit()?;
    let after = q.starting_after.map(|u| u.to_string());
    let page = match principal {
        Principal::Key(caller) => {
            caller.require(Permission::OrgRead)?;
            let org = load_org(&state, &caller).await?;
            let rows =
                if after.as_deref().is_some_and(|a| org.id.as_str() >= a) { vec![] } else { vec![org_dto(&org, None)] };
            Page::from_rows(rows, limit, |o| o.id.to_string())
        }
        Principal::User(user) => {
            let mut conn = state.store.pool().acquire().await?;
            let rows = store::list_user_orgs(&mut conn, &user.user_id, after.as_deref(), limit + 1).await?;
            let rows = rows.iter().map(|r| org_dto(&r.org(), Role::parse(&r.role))).collect();
            Page::from_rows(rows, limit, |o| o.id.to_string())
        }
    };
    let headers = pagination_headers("/v1/organizations", page.next_cursor.as_deref(), q.limit, &[]);
    Ok((headers, Json(page.items)).into_response())
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
            organization_id: org.id.clone(),
            user_id: user.user_id.clone(),
            role: Role::Owner.as_str().into(),
            created_at: org.created_at,
        },
    )
    .await?;
    let dto = org_dto(&org, Some(Role::Owner));
    store::insert_audit(
        &mut tx,
        &user.audit(
            &org.id,
            "organization.created",
            "organization",
            &org.id,
            json!({"after": {"name": org.name, "key_prefix": org.key_prefix}, "owner": user.user_id}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(dto)))
}

/// Get an organization
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
    check_org(&caller, &org)?;
    caller.require(Permission::OrgRead)?;
    Ok(Json(org_dto(&load_org(&state, &caller).await?, caller_role(&caller))))
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
    check_org(&caller, &org)?;
    caller.require(Permission::OrgWrite)?;
    caller.require_org_level("change the organization")?;
    let before = load_org(&state, &caller).await?;
    let mut after = before.clone();
    if let Some(name) = &req.name {
        after.name = validate::name("name", name)?;
    }
    if let Some(prefix) = &req.key_prefix {
        after.key_prefix = validate::key_prefix("key_prefix", prefix)?;
    }
    after.updated_at = now_ms();
    let mut tx = state.store.begin().await?;
    store::update_org(&mut tx, &after).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "organization.updated",
            "organization",
            &after.id,
            json!({"before": {"name": before.name, "key_prefix": before.key_prefix}, "after": {"name": after.name, "key_prefix": after.key_prefix}}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(org_dto(&after, caller_role(&caller))))
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
    check_org(&caller, &org)?;
    caller.require(Permission::OrgWrite)?;
    caller.require_org_level("delete the organization")?;
    caller.require_owner_level("delete the organization")?;
    let before = load_org(&state, &caller).await?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::lock_org(&mut tx, &before.id).await? {
        return Err(ApiError::NotFound("organization"));
    }
    let by = ChangedBy::Caller(&caller);
    let (hashes, revoked) =
        crate::app::keys::revoke_all_in(&mut tx, by, &before.id, None, "organization_deleted", now).await?;
    store::soft_delete_org(&mut tx, &before.id, now).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "organization.deleted",
            "organization",
            &before.id,
            json!({"before": {"name": before.name, "key_prefix": before.key_prefix}, "revoked_keys": revoked}),
        ),
    )
    .await?;
    tx.commit().await?;
    for hash in &hashes {
        state.keys.invalidate(hash).await;
    }
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
    check_org(&caller, &org)?;
    caller.require(Permission::MembersRead)?;
    caller.require_org_level("read members")?;
    let limit = PageQuery::<String> { limit: q.limit, starting_after: None }.limit()?;
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_members(&mut conn, &caller.organization_id, q.starting_after.as_deref(), limit + 1).await?;
    let page = Page::from_rows(rows.iter().map(member_dto).collect(), limit, |m| m.user_id.clone());
    let path = format!("/v1/organizations/{}/members", caller.organization_id);
    let headers = pagination_headers(&path, page.next_cursor.as_deref(), q.limit, &[]);
    Ok((headers, Json(page.items)).into_response())
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
    check_org(&caller, &org)?;
    caller.require(Permission::MembersWrite)?;
    caller.require_org_level("manage members")?;
    if req.role == Role::Owner {
        caller.require_owner_level("make someone an owner")?;
    }
    let member = MembershipRecord {
        organization_id: caller.organization_id.clone(),
        user_id: user_id("user_id", &req.user_id)?,
        role: req.role.as_str().into(),
        created_at: now_ms(),
    };
    let mut tx = state.store.begin().await?;
    if !store::lock_org(&mut tx, &member.organization_id).await? {
        return Err(ApiError::NotFound("organization"));
    }
    if store::get_membership(&mut tx, &member.organization_id, &member.user_id).await?.is_some() {
        return Err(ApiError::conflict(format!("user `{}` is already a member", member.user_id)));
    }
    store::insert_membership(&mut tx, &member).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            ApiError::conflict(format!("user `{}` is already a member", member.user_id))
        } else {
            e.into()
        }
    })?;
    store::insert_audit(
        &mut tx,
        &caller.audit("member.added", "user", &member.user_id, json!({"after": {"role": member.role}})),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(member_dto(&member))))
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
    check_org(&caller, &org)?;
    caller.require(Permission::MembersWrite)?;
    caller.require_org_level("manage members")?;
    let mut tx = state.store.begin().await?;
    if !store::lock_org(&mut tx, &caller.organization_id).await? {
        return Err(ApiError::NotFound("organization"));
    }
    let before =
        store::get_membership(&mut tx, &caller.organization_id, &user).await?.ok_or(ApiError::NotFound("member"))?;
    if req.role == Role::Owner && before.role != Role::Owner.as_str() {
        caller.require_owner_level("make someone an owner")?;
    }
    if before.role == Role::Owner.as_str() && req.role != Role::Owner {
        caller.require_owner_level("demote an owner")?;
    }
    if before.role == Role::Owner.as_str()
        && req.role != Role::Owner
        && store::count_owners(&mut tx, &caller.organization_id).await? <= 1
    {
        return Err(ApiError::conflict("cannot demote the last owner: make someone else an owner first"));
    }
    let mut after = before.clone();
    after.role = req.role.as_str().into();
    store::update_membership_role(&mut tx, &caller.organization_id, &user, &after.role).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "member.updated",
            "user",
            &user,
            json!({"before": {"role": before.role}, "after": {"role": after.role}}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(member_dto(&after)))
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
    check_org(&caller, &org)?;
    caller.require(Permission::MembersWrite)?;
    caller.require_org_level("manage members")?;
    let mut tx = state.store.begin().await?;
    if !store::lock_org(&mut tx, &caller.organization_id).await? {
        return Err(ApiError::NotFound("organization"));
    }
    let before =
        store::get_membership(&mut tx, &caller.organization_id, &user).await?.ok_or(ApiError::NotFound("member"))?;
    if before.role == Role::Owner.as_str() {
        caller.require_owner_level("remove an owner")?;
    }
    if before.role == Role::Owner.as_str() && store::count_owners(&mut tx, &caller.organization_id).await? <= 1 {
        return Err(ApiError::conflict("cannot remove the last owner: make someone else an owner first"));
    }
    store::delete_membership(&mut tx, &caller.organization_id, &user).await?;
    store::insert_audit(
        &mut tx,
        &caller.audit("member.removed", "user", &user, json!({"before": {"role": before.role}})),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_organizations, create_organization))
        .routes(routes!(get_organization, update_organization, delete_organization))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
}
