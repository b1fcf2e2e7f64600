//! Access rules: what a caller may do (permissions, the role table), which
//! scopes cover which, and what a caller may grant. Pure functions of their
//! arguments; `auth` applies them to a request's caller. `docs/roles.md`
//! carries the same tables (tests in `auth/tenancy.rs` keep them in step).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a caller may do. API-key scopes name these; `*` and `prefix:*` are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    KeysRead,
    KeysWrite,
    KeysVerify,
    OrgsAdmin,
    /// Change or revoke keys another user created (members manage only their own).
    KeysManageAll,
    ProjectsRead,
    ProjectsWrite,
    EnvironmentsRead,
    EnvironmentsWrite,
    AuditRead,
    MembersRead,
    MembersWrite,
    OrgRead,
    /// Update or delete the organization.
    OrgWrite,
}

impl Permission {
    pub fn scope(self) -> &'static str {
        match self {
            Self::KeysRead => "keys:read",
            Self::KeysWrite | Self::KeysManageAll => "keys:write",
            Self::KeysVerify => "keys:verify",
            // Orgs, members, projects, environments and audit.
            _ => "orgs:admin",
        }
    }

    /// What the permission lets one do, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::KeysRead => "read api keys",
            Self::KeysWrite => "create or change api keys",
            Self::KeysManageAll => "change api keys created by someone else",
            Self::KeysVerify => "verify api keys",
            Self::OrgsAdmin => "administer the organization",
            Self::ProjectsRead => "read projects",
            Self::ProjectsWrite => "create, change or delete projects",
            Self::EnvironmentsRead => "read environments",
            Self::EnvironmentsWrite => "create environments",
            Self::AuditRead => "read audit events",
            Self::MembersRead => "read members",
            Self::MembersWrite => "add, change or remove members",
            Self::OrgRead => "read the organization",
            Self::OrgWrite => "update or delete the organization",
        }
    }
}

/// Whether `granted` (a key's scopes) covers `required`. `*` covers all;
/// `keys:*` covers every scope that starts with `keys:`. A wildcard asked for
/// is covered only by itself or a wider one (`keys:*` by `keys:*` or `*`).
pub fn scope_granted<S: AsRef<str>>(granted: &[S], required: &str) -> bool {
    granted.iter().map(AsRef::as_ref).any(|g| {
        g == "*" || g == required || g.strip_suffix('*').is_some_and(|p| p.ends_with(':') && required.starts_with(p))
    })
}

/// keyward's own scopes: they gate keyward's API itself, so only a caller
/// that holds them may hand them out. Every other scope is the
/// application's, grantable by anyone allowed to write keys.
pub fn is_keyward_scope(scope: &str) -> bool {
    scope == "*" || scope.starts_with("keys:") || scope.starts_with("orgs:")
}

/// The keyward scopes of `requested` that `ceiling` does not cover.
pub fn ungrantable<'a, S: AsRef<str>>(ceiling: &[S], requested: &'a [String]) -> Vec<&'a str> {
    requested
        .iter()
        .map(String::as_str)
        .filter(|scope| is_keyward_scope(scope) && !scope_granted(ceiling, scope))
        .collect()
}

/// A user's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// THE permission table for users (documented in `docs/roles.md`; a unit test
/// keeps the two in step). API keys use scopes instead: [`Permission::scope`].
///
/// `KeysWrite` lets a member create keys and change/revoke the keys they
/// created; `KeysManageAll` is needed for anyone else's key.
pub fn role_allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        KeysRead | ProjectsRead | EnvironmentsRead | MembersRead | OrgRead => true,
        KeysWrite | KeysVerify => matches!(role, Owner | Admin | Member),
        KeysManageAll | ProjectsWrite | EnvironmentsWrite | AuditRead | OrgsAdmin => matches!(role, Owner | Admin),
        MembersWrite | OrgWrite => role == Owner,
    }
}

/// The keyward scopes a session of `role` may grant to keys it creates or
/// changes (documented in `docs/roles.md`, "What a caller may grant"; a unit
/// test keeps the two in step). Never more than the role can do itself: a
/// member manages only its own keys, so it cannot mint a `keys:write` key
/// (which manages every key); an admin cannot manage members or the
/// organization, so it cannot mint an `orgs:admin` key.
pub fn role_scope_ceiling(role: Role) -> &'static [&'static str] {
    match role {
        Role::Owner => &["*"],
        Role::Admin => &["keys:*"],
        Role::Member => &["keys:read", "keys:verify"],
        Role::Viewer => &["keys:read"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_expands_wildcards() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ungrantable(&g(&["keys:write"]), &g(&["*", "keys:read", "billing:*", "keys:write"])),
            ["*", "keys:read"]
        );
        assert!(ungrantable(&g(&["keys:*"]), &g(&["keys:read", "keys:*", "app:x"])).is_empty());
        assert_eq!(ungrantable(&g(&["keys:*"]), &g(&["orgs:admin", "*"])), ["orgs:admin", "*"]);
        assert!(ungrantable(&g(&["*"]), &g(&["*", "orgs:admin"])).is_empty());
    }

    #[test]
    fn wildcards() {
        let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(scope_granted(&g(&["*"]), "keys:write"));
        assert!(scope_granted(&g(&["keys:*"]), "keys:write"));
        assert!(!scope_granted(&g(&["keys:*"]), "orgs:admin"));
        assert!(!scope_granted(&g(&["keys:read"]), "keys:write"));
        assert!(scope_granted(&g(&["keys:read"]), "keys:read"));
        assert!(!scope_granted(&g(&["key*"]), "keys:read"));
        assert!(!scope_granted(&g(&[]), "keys:read"));
    }
}
