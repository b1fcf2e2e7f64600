//! Users, organizations and roles (`docs/architecture.md#domain`, `#authentication`): the permission table, the
//! session branch of authentication (org context resolution), the
//! no-organization [`Principal`] extractor, and the slot through which the
//! auth-failure audit learns who was refused.

use crate::{
    app::AppState,
    auth::{Actor, Caller, presented_token, request_meta},
    error::ApiError,
    keyfmt,
    store::{self, OrgId},
};
use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

pub use crate::{
    app::caller::{Principal, SessionUser},
    domain::access::{Role, role_allows, role_scope_ceiling},
};

// ---------------------------------------------------------------- auth-failure audit slot

/// Who a request turned out to be, once known: filled by the extractors, read
/// by [`crate::api::audit::record_auth_failures`] when the answer is 401/403.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub organization_id: OrgId,
    pub actor_type: &'static str,
    pub actor_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuthSlot(pub Arc<Mutex<Option<AuthContext>>>);

impl AuthSlot {
    pub fn take(&self) -> Option<AuthContext> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// Records who the caller is for the auth-failure audit (a no-op outside it).
pub fn note_auth_context(parts: &Parts, organization_id: OrgId, actor_type: &'static str, actor_id: &str) {
    if let Some(slot) = parts.extensions.get::<AuthSlot>()
        && let Ok(mut g) = slot.0.lock()
    {
        *g = Some(AuthContext { organization_id, actor_type, actor_id: actor_id.to_string() });
    }
}

// ---------------------------------------------------------------- sessions

/// Whether the presented credential came in `Authorization: Bearer` (only
/// there may a session JWT appear).
fn bearer_present(parts: &Parts) -> bool {
    parts.headers.contains_key(axum::http::header::AUTHORIZATION)
}

/// Verifies a non-key bearer token as a session JWT.
pub async fn session_user(parts: &Parts, state: &AppState, token: &str) -> Result<SessionUser, ApiError> {
    if !bearer_present(parts) {
        return Err(ApiError::unauthenticated("invalid credentials: not a valid keyward API key"));
    }
    let session = state.sessions.verify(token).await.map_err(|e| ApiError::unauthenticated(e.to_string()))?;
    Ok(SessionUser { user_id: session.user_id, org_claim: session.org_id, meta: request_meta(parts) })
}

pub const ORG_HEADER: &str = "x-organization-id";

/// The organization a session acts in: the path's `{org}` (it names the
/// resource), else `X-Organization-Id`, else the `org_id` claim, else the
/// user's first organization (oldest membership). Not a member → 404.
pub async fn session_caller(parts: &mut Parts, state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let user = session_user(parts, state, token).await?;
    let path_org = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .ok()
        .and_then(|Path(params)| params.get("org").cloned());
    let header_org = parts.headers.get(ORG_HEADER).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
    let wanted = path_org.or(header_org).or_else(|| user.org_claim.clone());
    let mut conn = state.store.pool().acquire().await?;
    let (organization_id, role) = match wanted {
        Some(org) => {
            // An id that is not a UUID names no organization, like an unknown one.
            let org = OrgId::parse(&org).map_err(|_| ApiError::NotFound("organization"))?;
            let role = store::membership_role(&mut conn, &org, &user.user_id)
                .await?
                .ok_or(ApiError::NotFound("organization"))?;
            (org, role)
        }
        None => store::first_membership(&mut conn, &user.user_id).await?.ok_or_else(|| {
            ApiError::forbidden("you are not a member of any organization: create one with POST /v1/organizations")
        })?,
    };
    let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("membership with unknown role `{role}`"))?;
    note_auth_context(parts, organization_id, "user", &user.user_id);
    Ok(Caller {
        organization_id,
        project_id: None,
        actor: Actor::User { user_id: user.user_id, role },
        meta: user.meta,
    })
}

/// Extracts a [`Principal`]: a session JWT without an organization chosen
/// yet, else whatever an API key authenticates as.
impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = presented_token(&parts.headers).filter(|t| !t.is_empty()).map(str::to_string);
        match token {
            Some(token) if keyfmt::parse(&token).is_none() => {
                Ok(Principal::User(session_user(parts, state, &token).await?))
            }
            _ => Ok(Principal::Key(Caller::from_request_parts(parts, state).await?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Permission;

    /// `docs/roles.md` carries the same table as [`role_allows`].
    #[test]
    fn documented_table_matches() {
        let doc = include_str!("../../../docs/roles.md");
        let table = doc.split("## The permission table").nth(1).expect("a permission table section");
        let table = table.split("\n## ").next().unwrap_or(table);
        let mut rows = 0;
        for line in table.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let permission = match cells[0].trim_matches('`') {
                "keys:read" => Permission::KeysRead,
                "keys:write (own keys)" => Permission::KeysWrite,
                "keys:write (any key)" => Permission::KeysManageAll,
                "keys:verify" => Permission::KeysVerify,
                "projects:read" => Permission::ProjectsRead,
                "projects:write" => Permission::ProjectsWrite,
                "environments:read" => Permission::EnvironmentsRead,
                "environments:write" => Permission::EnvironmentsWrite,
                "audit:read" => Permission::AuditRead,
                "members:read" => Permission::MembersRead,
                "members:write" => Permission::MembersWrite,
                "organization:read" => Permission::OrgRead,
                "organization:write" => Permission::OrgWrite,
                other => panic!("unknown permission row `{other}` in docs/roles.md"),
            };
            for (i, role) in [Role::Viewer, Role::Member, Role::Admin, Role::Owner].into_iter().enumerate() {
                let documented = cells[1 + i] == "yes";
                assert_eq!(documented, role_allows(role, permission), "{permission:?} for {role}");
            }
            rows += 1;
        }
        assert_eq!(rows, 13, "every permission is documented");
    }

    /// `docs/roles.md` carries the same grant ceilings as [`role_scope_ceiling`].
    #[test]
    fn documented_ceilings_match() {
        let doc = include_str!("../../../docs/roles.md");
        let table = doc.split("## What a caller may grant").nth(1).expect("a grant-ceiling section");
        let table = table.split("\n## ").next().unwrap_or(table);
        let mut rows = 0;
        for line in table.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let scope = cells[0].split('`').nth(1).unwrap_or_default();
            for (i, role) in [Role::Viewer, Role::Member, Role::Admin, Role::Owner].into_iter().enumerate() {
                let documented = cells[1 + i] == "yes";
                let granted = crate::auth::ungrantable(role_scope_ceiling(role), &[scope.to_string()]).is_empty();
                assert_eq!(documented, granted, "may a {role} grant `{scope}`?");
            }
            rows += 1;
        }
        assert!(rows >= 8, "every keyward scope is documented");
    }
}
