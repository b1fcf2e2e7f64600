//! The caller of a use case (Nexus's `OpContext`): the organization it acts
//! in, who it is (an API key with its scopes or a session user with a role),
//! and where the request came from for the audit log. `auth/` builds one from
//! a request's credentials; the use cases of `app/` only ask it questions:
//! may it do this, may it grant that, may it see this project. A
//! [`Principal`] is the caller of the two use cases a user without an
//! organization may reach (listing and creating organizations).

use crate::{
    domain::access::{Permission, Role, role_allows, role_scope_ceiling, scope_granted, ungrantable},
    error::{ApiError, ApiResult},
    store::{AuditRecord, KeyId, OrgId, ProjectId},
};
use std::{fmt, sync::Arc};

#[derive(Debug, Clone)]
pub enum Actor {
    ApiKey {
        key_id: KeyId,
        scopes: Arc<Vec<String>>,
    },
    /// A dashboard session (JWT `sub`) with its role in `Caller::organization_id`.
    User {
        user_id: String,
        role: Role,
    },
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

impl RequestMeta {
    /// `event` with this request as its origin.
    pub fn stamp(&self, event: AuditRecord) -> AuditRecord {
        event.origin(self.ip.clone(), self.user_agent.clone(), Some(self.request_id.clone()))
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub organization_id: OrgId,
    /// A project key sees and manages only its project.
    pub project_id: Option<ProjectId>,
    pub actor: Actor,
    pub meta: RequestMeta,
}

impl Caller {
    pub fn require(&self, permission: Permission) -> ApiResult<()> {
        match &self.actor {
            Actor::ApiKey { scopes, .. } if scope_granted(scopes, permission.scope()) => Ok(()),
            Actor::ApiKey { .. } => {
                Err(ApiError::forbidden(format!("this API key lacks the `{}` scope", permission.scope())))
            }
            Actor::User { role, .. } if role_allows(*role, permission) => Ok(()),
            Actor::User { role, .. } => {
                Err(ApiError::forbidden(format!("the `{role}` role cannot {}", permission.describe())))
            }
        }
    }

    /// May change or revoke a key created by `created_by_user_id`: members
    /// only their own keys, admins and owners any (API keys: `keys:write`).
    pub fn require_key_manage(&self, created_by_user_id: Option<&str>) -> ApiResult<()> {
        match &self.actor {
            Actor::User { user_id, .. } if created_by_user_id == Some(user_id.as_str()) => {
                self.require(Permission::KeysWrite)
            }
            Actor::User { .. } => self.require(Permission::KeysManageAll),
            Actor::ApiKey { .. } => self.require(Permission::KeysWrite),
        }
    }

    /// The organization a request names (a path's `{org}`) must be the
    /// caller's: any other answers 404, never 403 (no enumeration).
    pub fn require_organization(&self, organization_id: &str) -> ApiResult<()> {
        if OrgId::parse(organization_id).ok() != Some(self.organization_id) {
            return Err(ApiError::NotFound("organization"));
        }
        Ok(())
    }

    /// Organization-level management (members, the org itself, environments,
    /// audit) is not for a key confined to one project.
    pub fn require_org_level(&self, what: &str) -> ApiResult<()> {
        if self.project_id.is_some() {
            return Err(ApiError::forbidden(format!("a project key cannot {what}")));
        }
        Ok(())
    }

    /// The scopes this caller may hand out: a key's own, a session's role's
    /// ([`role_scope_ceiling`]).
    pub fn require_grantable(&self, field: &str, scopes: &[String]) -> ApiResult<()> {
        let refused = match &self.actor {
            Actor::ApiKey { scopes: own, .. } => ungrantable(own, scopes),
            Actor::User { role, .. } => ungrantable(role_scope_ceiling(*role), scopes),
        };
        if refused.is_empty() {
            return Ok(());
        }
        let holder = match &self.actor {
            Actor::ApiKey { .. } => "this API key".to_string(),
            Actor::User { role, .. } => format!("the `{role}` role"),
        };
        Err(ApiError::InsufficientScope(format!(
            "{field}: {holder} cannot grant {}: a caller can only grant keyward scopes it holds itself",
            refused.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        )))
    }

    /// Owner-level acts (making or unmaking an owner, deleting the
    /// organization): an owner session or a `*` key.
    pub fn require_owner_level(&self, what: &str) -> ApiResult<()> {
        match &self.actor {
            Actor::User { role: Role::Owner, .. } => Ok(()),
            Actor::ApiKey { scopes, .. } if scopes.iter().any(|s| s == "*") => Ok(()),
            Actor::ApiKey { .. } => Err(ApiError::InsufficientScope(format!("only a `*` key or an owner can {what}"))),
            Actor::User { role, .. } => Err(ApiError::forbidden(format!("the `{role}` role cannot {what}"))),
        }
    }

    /// `source` recorded on keys this caller creates.
    pub fn key_source(&self) -> &'static str {
        match self.actor {
            Actor::ApiKey { .. } => "api",
            Actor::User { .. } => "dashboard",
        }
    }

    /// A session's role in the organization; none for an API key.
    pub fn role(&self) -> Option<Role> {
        match &self.actor {
            Actor::User { role, .. } => Some(*role),
            Actor::ApiKey { .. } => None,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match &self.actor {
            Actor::ApiKey { .. } => None,
            Actor::User { user_id, .. } => Some(user_id),
        }
    }

    /// Whether this caller may see an object of `project_id`.
    pub fn can_see_project(&self, project_id: Option<ProjectId>) -> bool {
        match self.project_id {
            None => true,
            Some(own) => project_id == Some(own),
        }
    }

    /// An audit event performed by this caller.
    pub fn audit(
        &self,
        action: &str,
        target_type: &str,
        target_id: impl fmt::Display,
        changes: serde_json::Value,
    ) -> AuditRecord {
        let (actor_type, actor_id) = match &self.actor {
            Actor::ApiKey { key_id, .. } => ("api_key", key_id.to_string()),
            Actor::User { user_id, .. } => ("user", user_id.clone()),
        };
        self.meta.stamp(
            AuditRecord::new(self.organization_id, actor_type, actor_id, action, target_type, target_id.to_string())
                .changes(changes),
        )
    }
}

/// A verified session user, before any organization is chosen.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: String,
    /// The Clerk-style `org_id` claim, if any.
    pub org_claim: Option<String>,
    pub meta: RequestMeta,
}

impl SessionUser {
    /// An audit event by this user in `organization_id`.
    pub fn audit(
        &self,
        organization_id: OrgId,
        action: &str,
        target_type: &str,
        target_id: impl fmt::Display,
        changes: serde_json::Value,
    ) -> AuditRecord {
        self.meta.stamp(
            AuditRecord::new(
                organization_id,
                "user",
                self.user_id.as_str(),
                action,
                target_type,
                target_id.to_string(),
            )
            .changes(changes),
        )
    }
}

/// Who is calling, for the two routes a user without an organization may use
/// (`GET`/`POST /v1/organizations`): an API key (with its organization) or a
/// session user (no organization chosen).
#[derive(Debug, Clone)]
pub enum Principal {
    Key(Caller),
    User(SessionUser),
}
