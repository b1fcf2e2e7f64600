//! Environments: list and create the environments of an organization, reached
//! through one of its projects (`live` and `test` exist in every organization;
//! an environment is a label keys carry and verify returns:
//! `docs/architecture.md#domain`).

use crate::domain::ids::EnvironmentId;
use crate::{
    app::{
        AppState,
        caller::Caller,
        pagination::{Page, PageQuery},
        projects::load_visible_project,
        validate,
    },
    domain::{access::Permission, time::ms_to_time},
    error::{ApiError, ApiResult},
    store::{self, EnvironmentRecord},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// A label keys carry and verify returns (e.g. `live`, `test`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a3c1-0000-7000-8000-000000000002", "organization_id": "0193a3c1-0000-7000-8000-000000000001", "name": "staging", "created_at": "2026-11-23T12:00:00Z"}))]
pub struct Environment {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// 1-16 lowercase letters or digits.
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&EnvironmentRecord> for Environment {
    fn from(e: &EnvironmentRecord) -> Self {
        Environment {
            id: e.id.uuid(),
            organization_id: e.organization_id.uuid(),
            name: e.name.clone(),
            created_at: ms_to_time(e.created_at),
        }
    }
}

/// A page of the environments of project `project_id`'s organization, newest first.
pub async fn list_environments(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    page: &PageQuery,
) -> ApiResult<Page<EnvironmentRecord>> {
    caller.require(Permission::EnvironmentsRead)?;
    let project = load_visible_project(state, caller, project_id).await?;
    let limit = page.limit()?;
    let mut conn = state.store.pool().acquire().await?;
    let rows =
        store::list_environments(&mut conn, &project.organization_id, page.after().as_deref(), limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |e| e.id.to_string()))
}

/// Creates environment `name` in project `project_id`'s organization
/// (environments are shared by all its projects).
pub async fn create_environment(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    name: &str,
) -> ApiResult<EnvironmentRecord> {
    caller.require(Permission::EnvironmentsWrite)?;
    caller.require_org_level("create environments")?;
    let project = load_visible_project(state, caller, project_id).await?;
    let env = EnvironmentRecord {
        id: EnvironmentId::new(),
        organization_id: project.organization_id,
        name: validate::environment_name("name", name)?,
        created_at: state.config.clock.now_ms(),
    };
    let conflict = || ApiError::conflict(format!("an environment named `{}` already exists", env.name));
    let mut tx = state.store.begin().await?;
    if store::find_environment(&mut tx, &env.organization_id, &env.name).await?.is_some() {
        return Err(conflict());
    }
    store::insert_environment(&mut tx, &env)
        .await
        .map_err(|e| if store::is_unique_violation(&e) { conflict() } else { e.into() })?;
    store::insert_audit(
        &mut tx,
        &caller.audit(
            "environment.created",
            "environment",
            env.id,
            json!({"after": {"name": env.name}, "project_id": project.id}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(env)
}
