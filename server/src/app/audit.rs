//! Reading the audit log: the caller's organization's events, newest first
//! (`docs/architecture.md#domain`). Admins and owners or an `orgs:admin` key,
//! never a project key. Events are written by the use cases that act, in
//! their own transactions; refused requests are recorded by
//! `api::audit::record_auth_failures`, which is HTTP.

use crate::{
    app::{
        AppState,
        caller::Caller,
        pagination::{Page, PageQuery},
    },
    domain::access::Permission,
    error::ApiResult,
    store::{self, AuditRecord},
};
use chrono::{DateTime, Utc};

/// Which events to list; `None` (or an empty string) does not filter.
#[derive(Debug, Default, Clone)]
pub struct AuditEventFilter {
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// A page of the organization's audit events matching `filter`, newest first.
pub async fn list_audit_events(
    state: &AppState,
    caller: &Caller,
    filter: &AuditEventFilter,
    page: &PageQuery,
) -> ApiResult<Page<AuditRecord>> {
    caller.require(Permission::AuditRead)?;
    caller.require_org_level("read audit events")?;
    let limit = page.limit()?;
    let after = page.after();
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_audit(
        &mut conn,
        &store::AuditFilter {
            organization_id: &caller.organization_id,
            action: filter.action.as_deref().filter(|s| !s.is_empty()),
            actor_id: filter.actor_id.as_deref().filter(|s| !s.is_empty()),
            target_id: filter.target_id.as_deref().filter(|s| !s.is_empty()),
            since: filter.since.map(|t| t.timestamp_millis()),
            until: filter.until.map(|t| t.timestamp_millis()),
            starting_after: after.as_deref(),
            limit: limit + 1,
        },
    )
    .await?;
    Ok(Page::from_rows(rows, limit, |e| e.id.to_string()))
}
