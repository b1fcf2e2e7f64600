//! The HTTP API: one module per resource (DTOs, handlers, router), assembled
//! here with the OpenAPI document so routes and spec cannot drift.

pub mod api_keys;
pub mod audit;
pub mod environments;
pub mod health;
pub mod key_import;
pub mod leaks;
pub mod org_api_keys;
pub mod organizations;
pub mod projects;
pub mod usage;
pub mod validate;
pub mod verify;
pub mod webhook_deliveries;
pub mod webhook_endpoints;

use crate::{error::ApiError, state::AppState};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey as ApiKeyScheme, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyward",
        description = "Self-hostable API-key service: create, rotate, revoke and verify API keys.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "Local server")),
    modifiers(&SecuritySchemes),
    tags(
        (name = "api-keys", description = "Project-level API keys: create, list, update, regenerate, rotate, revoke"),
        (name = "organization-api-keys", description = "The organization-scoped key family"),
        (name = "projects", description = "Projects group keys and hold defaults for new keys"),
        (name = "organizations", description = "Tenants: create (the caller becomes owner), list, update, delete"),
        (name = "members", description = "Who belongs to an organization, with which role (owner, admin, member, viewer)"),
        (name = "environments", description = "Organization environments (`live`, `test`, …) that keys carry"),
        (name = "audit", description = "The append-only audit log"),
        (name = "verification", description = "The hot path: verify a presented key"),
        (name = "webhooks", description = "Signed webhooks (Standard Webhooks): endpoints, deliveries, redelivery"),
        (name = "leaks", description = "Leaked-key reports from secret scanners (GitHub's partner format)"),
        (name = "system", description = "Health and readiness"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A keyward API key (or a dashboard session JWT)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKeyScheme::Header(ApiKeyValue::with_description("x-api-key", "A keyward API key"))),
        );
    }
}

/// Every documented route with its OpenAPI operation.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(key_import::router())
        .merge(api_keys::router())
        .merge(usage::router())
        .merge(org_api_keys::router())
        .merge(projects::router())
        .merge(organizations::router())
        .merge(environments::router())
        .merge(audit::router())
        .merge(verify::router())
        .merge(webhook_endpoints::router())
        .merge(webhook_deliveries::router())
        .merge(leaks::router())
        .merge(health::router())
}

/// Cursor pagination input shared by every list.
#[derive(Debug, Default, Clone)]
pub struct PageQuery {
    pub limit: Option<u32>,
    pub starting_after: Option<uuid::Uuid>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.unwrap_or(DEFAULT_PAGE_SIZE) {
            n @ 1..=MAX_PAGE_SIZE => Ok(i64::from(n)),
            _ => Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_PAGE_SIZE}"))),
        }
    }
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Page { items: Vec::new(), next_cursor: None }
    }

    /// `rows` were fetched with `limit + 1`: the extra row only says "there is more".
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(&cursor_of) } else { None };
        Page { items: rows, next_cursor }
    }
}

/// `X-Next-Cursor` and `Link: <…>; rel="next"` for a list response.
pub fn pagination_headers(path: &str, next_cursor: Option<&str>, limit: Option<u32>, extra: &[(&str, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let Some(cursor) = next_cursor else { return headers };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in extra {
        query.append_pair(k, v);
    }
    query.append_pair("limit", &limit.unwrap_or(DEFAULT_PAGE_SIZE).to_string());
    query.append_pair("starting_after", cursor);
    if let Ok(v) = HeaderValue::from_str(cursor) {
        headers.insert(HeaderName::from_static("x-next-cursor"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{path}?{}>; rel=\"next\"", query.finish())) {
        headers.insert(axum::http::header::LINK, v);
    }
    headers
}

/// PATCH fields where `null` (clear) differs from absent (leave alone).
pub mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
