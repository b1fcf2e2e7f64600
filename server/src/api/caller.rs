//! `GET /v1/caller`: who the credentials of this request are — the question a
//! script or an SDK user asks first ("which organization does this key act
//! in, with which scopes?"). It reads only the authenticated caller, so it
//! needs no permission and touches no table.

use crate::{
    app::caller::{Actor, Caller},
    domain::access::Role,
    error::{ApiResult, ErrorBody},
};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::app::AppState;

const TAG: &str = "caller";

/// Whether the caller authenticated with an API key or a session token.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    ApiKey,
    User,
}

/// The caller this request authenticated as.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallerIdentity {
    pub kind: CallerKind,
    /// The organization the caller acts in.
    pub organization_id: Uuid,
    /// The project an API key belongs to; null for an organization-wide key or a session.
    pub project_id: Option<Uuid>,
    /// The API key's id; null for a session.
    pub api_key_id: Option<Uuid>,
    /// The API key's scopes; null for a session.
    pub scopes: Option<Vec<String>>,
    /// The session's user (the token's `sub`); null for an API key.
    pub user_id: Option<String>,
    /// The session user's role in the organization; null for an API key.
    pub role: Option<Role>,
}

impl From<&Caller> for CallerIdentity {
    fn from(caller: &Caller) -> CallerIdentity {
        let (kind, api_key_id, scopes, user_id, role) = match &caller.actor {
            Actor::ApiKey { key_id, scopes } => {
                (CallerKind::ApiKey, Some(key_id.uuid()), Some(scopes.as_ref().clone()), None, None)
            }
            Actor::User { user_id, role } => (CallerKind::User, None, None, Some(user_id.clone()), Some(*role)),
        };
        CallerIdentity {
            kind,
            organization_id: caller.organization_id.uuid(),
            project_id: caller.project_id.map(|project| project.uuid()),
            api_key_id,
            scopes,
            user_id,
            role,
        }
    }
}

/// Who is calling
///
/// The identity these credentials authenticate as: an API key (its id, project and scopes) or
/// a session user (id and role), and the organization either acts in. Any valid credentials may ask.
#[utoipa::path(get, path = "/v1/caller", tag = TAG, operation_id = "get_caller",
    responses(
        (status = 200, description = "The caller", body = CallerIdentity),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_caller(caller: Caller) -> ApiResult<Json<CallerIdentity>> {
    Ok(Json(CallerIdentity::from(&caller)))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_caller))
}
