//! Tenancy resource handles: `client.organizations()`, `client.members()`,
//! `client.environments()`, `client.audit_events()`.
//!
//! Same patterns as [`crate::resources`]: every attempt rebuilds the generated
//! request, lists follow `X-Next-Cursor`, and mutating POSTs carry one
//! `Idempotency-Key` across their retries.

use futures::Stream;
use uuid::Uuid;

use crate::client::Client;
use crate::error::Error;
use crate::generated::types;
use crate::generated::{ClientAuditExt, ClientEnvironmentsExt, ClientMembersExt, ClientOrganizationsExt};
use crate::pagination::{Page, paginate};
use crate::resources::{next_cursor_header, page_size, parse_cursor};
use crate::retry::RetrySafety;

/// Cursor and page size for [`Organizations::list`] and [`Organizations::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListOrganizations {
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this organization id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

/// Cursor and page size for [`Members::list`] and [`Members::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListMembers {
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this user id: the previous page's `next_cursor`. A user
    /// id, not a UUID, since it is the identity provider's `sub`.
    pub starting_after: Option<String>,
}

/// Cursor and page size for [`Environments::list`] and [`Environments::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListEnvironments {
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this environment id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

/// Filters and cursor for [`AuditEvents::list`] and [`AuditEvents::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListAuditEvents {
    /// Only this action, e.g. `api_key.revoked` or `member.added`.
    pub action: Option<String>,
    /// Only events by this actor (a user id or an API key id).
    pub actor_id: Option<String>,
    /// Only events on this target id.
    pub target_id: Option<String>,
    /// Only events at or after this time.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events before this time.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this event id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

/// Organizations (tenants), `/v1/organizations`. Get one from [`Client::organizations`].
#[derive(Debug, Clone)]
pub struct Organizations {
    client: Client,
}

impl Organizations {
    pub(crate) fn new(client: Client) -> Organizations {
        Organizations { client }
    }

    /// Creates an organization; the calling user becomes its owner and the
    /// `live` and `test` environments are created with it. Only a user
    /// session can do this (an API key gets 403).
    pub async fn create(&self, request: types::CreateOrganizationRequest) -> Result<types::Organization, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.create_organization().idempotency_key(idempotency_key.clone()).body(request.clone()).send()
            })
            .await?;
        Ok(response.into_inner())
    }

    /// Every organization the caller sees, newest first, following
    /// `X-Next-Cursor`: a session's memberships (each with its `role`), or an
    /// API key's own organization.
    pub fn list(
        &self,
        params: ListOrganizations,
    ) -> impl Stream<Item = Result<types::Organization, Error>> + Send + Unpin + 'static {
        let organizations = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let organizations = organizations.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                organizations.list_page(params).await
            }
        })
    }

    /// One page of organizations; `next_cursor` is set when more follow.
    pub async fn list_page(&self, params: ListOrganizations) -> Result<Page<types::Organization>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_organizations();
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(starting_after) = params.starting_after {
                    request = request.starting_after(starting_after);
                }
                request.send()
            })
            .await?;
        let next_cursor = next_cursor_header(response.headers())?;
        Ok(Page { items: response.into_inner(), next_cursor })
    }

    /// One organization. Another tenant's (or a deleted one) answers 404.
    pub async fn get(&self, org: Uuid) -> Result<types::Organization, Error> {
        let api = self.client.api();
        let response =
            self.client.call(RetrySafety::Idempotent, move || api.get_organization().org(org).send()).await?;
        Ok(response.into_inner())
    }

    /// Renames the organization or changes its default key prefix (owners,
    /// or an `orgs:admin` key); fields left `None` are unchanged.
    pub async fn update(
        &self,
        org: Uuid,
        request: types::UpdateOrganizationRequest,
    ) -> Result<types::Organization, Error> {
        let api = self.client.api();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || api.update_organization().org(org).body(request.clone()).send())
            .await?;
        Ok(response.into_inner())
    }

    /// Revokes every key of the organization, then deletes it (owners, or an
    /// `orgs:admin` key). A retry after a lost response may answer 404.
    pub async fn delete(&self, org: Uuid) -> Result<(), Error> {
        let api = self.client.api();
        self.client.call(RetrySafety::Idempotent, move || api.delete_organization().org(org).send()).await?;
        Ok(())
    }
}

/// Members of an organization, `/v1/organizations/{org}/members`. Get one
/// from [`Client::members`].
#[derive(Debug, Clone)]
pub struct Members {
    client: Client,
}

impl Members {
    pub(crate) fn new(client: Client) -> Members {
        Members { client }
    }

    /// Every member of `org`, newest first (by when they joined), following
    /// `X-Next-Cursor`.
    pub fn list(
        &self,
        org: Uuid,
        params: ListMembers,
    ) -> impl Stream<Item = Result<types::Member, Error>> + Send + Unpin + 'static {
        let members = self.clone();
        let first_cursor = params.starting_after.clone();
        paginate(first_cursor, move |cursor| {
            let members = members.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor;
                members.list_page(org, params).await
            }
        })
    }

    /// One page of `org`'s members; `next_cursor` (a user id) is set when more follow.
    pub async fn list_page(&self, org: Uuid, params: ListMembers) -> Result<Page<types::Member>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_members().org(org);
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(starting_after) = &params.starting_after {
                    request = request.starting_after(starting_after.clone());
                }
                request.send()
            })
            .await?;
        let next_cursor = next_cursor_header(response.headers())?;
        Ok(Page { items: response.into_inner(), next_cursor })
    }

    /// Adds a user (by their session `sub`) to `org` with a role (owners, or
    /// an `orgs:admin` key). Adding an existing member answers 409.
    pub async fn add(&self, org: Uuid, request: types::AddMemberRequest) -> Result<types::Member, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.add_member().org(org).idempotency_key(idempotency_key.clone()).body(request.clone()).send()
            })
            .await?;
        Ok(response.into_inner())
    }

    /// Changes a member's role. Demoting the last owner answers 409.
    pub async fn update(
        &self,
        org: Uuid,
        user_id: &str,
        request: types::UpdateMemberRequest,
    ) -> Result<types::Member, Error> {
        let api = self.client.api();
        let user_id = user_id.to_string();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.update_member().org(org).user_id(user_id.clone()).body(request.clone()).send()
            })
            .await?;
        Ok(response.into_inner())
    }

    /// Removes a member from `org`. Removing the last owner answers 409; a
    /// retry after a lost response may answer 404.
    pub async fn remove(&self, org: Uuid, user_id: &str) -> Result<(), Error> {
        let api = self.client.api();
        let user_id = user_id.to_string();
        self.client
            .call(RetrySafety::Idempotent, move || api.remove_member().org(org).user_id(user_id.clone()).send())
            .await?;
        Ok(())
    }
}

/// Environments (`live`, `test`, …), `/v1/projects/{id}/environments`. They
/// belong to the project's organization and are shared by all its projects.
/// Get one from [`Client::environments`].
#[derive(Debug, Clone)]
pub struct Environments {
    client: Client,
}

impl Environments {
    pub(crate) fn new(client: Client) -> Environments {
        Environments { client }
    }

    /// Every environment of `project_id`'s organization, newest first,
    /// following `X-Next-Cursor`.
    pub fn list(
        &self,
        project_id: Uuid,
        params: ListEnvironments,
    ) -> impl Stream<Item = Result<types::Environment, Error>> + Send + Unpin + 'static {
        let environments = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let environments = environments.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                environments.list_page(project_id, params).await
            }
        })
    }

    /// One page of environments; `next_cursor` is set when more follow.
    pub async fn list_page(
        &self,
        project_id: Uuid,
        params: ListEnvironments,
    ) -> Result<Page<types::Environment>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_environments().id(project_id);
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(starting_after) = params.starting_after {
                    request = request.starting_after(starting_after);
                }
                request.send()
            })
            .await?;
        let next_cursor = next_cursor_header(response.headers())?;
        Ok(Page { items: response.into_inner(), next_cursor })
    }

    /// Creates an environment in `project_id`'s organization (admins and
    /// owners, or an `orgs:admin` key). A name already taken answers 409.
    pub async fn create(
        &self,
        project_id: Uuid,
        request: types::CreateEnvironmentRequest,
    ) -> Result<types::Environment, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.create_environment()
                    .id(project_id)
                    .idempotency_key(idempotency_key.clone())
                    .body(request.clone())
                    .send()
            })
            .await?;
        Ok(response.into_inner())
    }
}

/// The append-only audit log, `/v1/audit-events` (admins and owners, or an
/// `orgs:admin` key). Get one from [`Client::audit_events`].
#[derive(Debug, Clone)]
pub struct AuditEvents {
    client: Client,
}

impl AuditEvents {
    pub(crate) fn new(client: Client) -> AuditEvents {
        AuditEvents { client }
    }

    /// Every audit event of the caller's organization matching `params`,
    /// newest first, following `X-Next-Cursor`.
    pub fn list(
        &self,
        params: ListAuditEvents,
    ) -> impl Stream<Item = Result<types::AuditEvent, Error>> + Send + Unpin + 'static {
        let audit_events = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let audit_events = audit_events.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                audit_events.list_page(params).await
            }
        })
    }

    /// One page of audit events; `next_cursor` is set when more follow.
    pub async fn list_page(&self, params: ListAuditEvents) -> Result<Page<types::AuditEvent>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_audit_events();
                if let Some(action) = &params.action {
                    request = request.action(action.clone());
                }
                if let Some(actor_id) = &params.actor_id {
                    request = request.actor_id(actor_id.clone());
                }
                if let Some(target_id) = &params.target_id {
                    request = request.target_id(target_id.clone());
                }
                if let Some(since) = params.since {
                    request = request.since(since);
                }
                if let Some(until) = params.until {
                    request = request.until(until);
                }
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(starting_after) = params.starting_after {
                    request = request.starting_after(starting_after);
                }
                request.send()
            })
            .await?;
        let next_cursor = next_cursor_header(response.headers())?;
        Ok(Page { items: response.into_inner(), next_cursor })
    }
}
