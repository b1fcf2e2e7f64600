//! The HTTP API: one module per resource (DTOs, handlers, router), assembled
//! here with the OpenAPI document so routes and spec cannot drift.

pub mod api_keys;
pub mod audit;
pub mod caller;
pub mod environments;
pub mod health;
pub mod key_import;
pub mod leaks;
pub mod org_api_keys;
pub mod organizations;
pub mod projects;
pub mod usage;
pub use crate::app::validate;
pub mod verify;
pub mod webhook_deliveries;
pub mod webhook_endpoints;

use crate::app::AppState;
use axum::{
    http::{HeaderMap, HeaderName, HeaderValue},
    response::{IntoResponse, Response},
};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey as ApiKeyScheme, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::router::OpenApiRouter;

pub use crate::app::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageQuery};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "keyward",
        description = "Self-hostable API-key service: create, rotate, revoke and verify API keys.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "Local server")),
    // The default for every operation; the public ones (probes, the signed
    // leak report) say `security()`, which is `security: []`.
    security(("bearer" = []), ("api_key" = [])),
    modifiers(&SecuritySchemes),
    tags(
        (name = "api-keys", description = "Project-level API keys: create, list, update, regenerate, rotate, revoke"),
        (name = "organization-api-keys", description = "The organization-scoped key family"),
        (name = "projects", description = "Projects group keys and hold defaults for new keys"),
        (name = "organizations", description = "Tenants: create (the caller becomes owner), list, update, delete"),
        (name = "members", description = "Who belongs to an organization, with which role (owner, admin, member, viewer)"),
        (name = "environments", description = "Organization environments (`live`, `test`, …) that keys carry"),
        (name = "audit-events", description = "The append-only audit log"),
        (name = "caller", description = "Who the request's credentials are: key or session, organization, scopes or role"),
        (name = "keys", description = "The hot path: verify a presented key"),
        (name = "webhook-endpoints", description = "Where signed webhooks (Standard Webhooks) about keys are delivered"),
        (name = "webhook-deliveries", description = "Each event's delivery to each endpoint, and redelivery"),
        (name = "webhook-signing-secret", description = "The secret signing deliveries to keys' own `rotation_webhook_url`"),
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
            SecurityScheme::ApiKey(ApiKeyScheme::Header(ApiKeyValue::with_description(
                "x-api-key",
                "A keyward API key",
            ))),
        );
    }
}

/// The routes and the finished spec: [`api_router`] split, with
/// [`common_responses`] applied to every operation.
pub fn router_and_spec() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut spec) = api_router().split_for_parts();
    common_responses(&mut spec);
    (router, spec)
}

/// What every operation can answer besides its own outcomes, added in one
/// place so no route forgets one (each route documents its specific ones,
/// whose descriptions are kept):
/// - a secured operation: 401 (missing or invalid credentials; auth runs
///   before anything else), 403 (scope or role) and 429 (the calling key's own
///   `rate_limit`);
/// - a request body: 400 (invalid JSON or field) and 413 (over 64 KiB);
/// - query parameters: 400;
/// - a path parameter: 404;
/// - every POST under `/v1/` except verify takes `Idempotency-Key`
///   (1-255 printable ASCII characters; 400 when malformed, 409 when reused
///   with another body or still in flight);
/// - anything that reads the database: 503 when it does not answer.
pub fn common_responses(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        ContentBuilder, HttpMethod, Ref, RefOr, ResponseBuilder,
        header::HeaderBuilder,
        path::{Operation, ParameterBuilder, ParameterIn},
        schema::{ObjectBuilder, Type},
    };
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
    };
    let ensure = |op: &mut Operation, status: &str, response: ResponseBuilder| {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(response.build()));
    };
    let idempotency_schema = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(255))
            .pattern(Some(r"^[\x21-\x7E]{1,255}$"))
            .build()
    };
    for (path, item) in spec.paths.paths.iter_mut() {
        for method in [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch, HttpMethod::Delete] {
            let op = match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                HttpMethod::Put => item.put.as_mut(),
                HttpMethod::Patch => item.patch.as_mut(),
                HttpMethod::Delete => item.delete.as_mut(),
                _ => None,
            };
            let Some(op) = op else { continue };
            if method == HttpMethod::Post && path.starts_with("/v1/") && path != "/v1/keys/verify" {
                let params = op.parameters.get_or_insert_with(Vec::new);
                let existing = params.iter_mut().find_map(|p| match p {
                    RefOr::T(p) if p.name.eq_ignore_ascii_case(crate::idempotency::HEADER) => Some(p),
                    _ => None,
                });
                match existing {
                    Some(p) => p.schema = Some(RefOr::T(idempotency_schema().into())),
                    None => params.push(RefOr::T(
                        ParameterBuilder::new()
                            .name("Idempotency-Key")
                            .parameter_in(ParameterIn::Header)
                            .description(Some(
                                "Replays the first successful response for 24 h when repeated with the same body",
                            ))
                            .schema(Some(idempotency_schema()))
                            .build(),
                    )),
                }
                ensure(op, "400", error("Invalid field, or a malformed `Idempotency-Key`"));
                ensure(
                    op,
                    "409",
                    error("`Idempotency-Key` reused with a different body, or its first request is still in flight"),
                );
            }
            let params = op.parameters.as_deref().unwrap_or_default();
            let has = |place: ParameterIn| params.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place));
            let (has_query, has_path) = (has(ParameterIn::Query), has(ParameterIn::Path));
            if op.request_body.is_some() {
                ensure(op, "400", error("Invalid JSON body or field"));
                ensure(op, "413", error("Request body over 64 KiB"));
            }
            if has_query {
                ensure(op, "400", error("Invalid query parameter"));
            }
            if has_path {
                ensure(op, "404", error("Not found"));
            }
            if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                ensure(op, "401", error("Missing or invalid credentials"));
                ensure(op, "403", error("The credential lacks the permission"));
                ensure(
                    op,
                    "429",
                    error("The calling key's own `rate_limit` is exhausted").header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
                            .description(Some("Seconds until a request may succeed"))
                            .build(),
                    ),
                );
            }
            if path != "/healthz" {
                ensure(op, "503", error("The database does not answer"));
            }
        }
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
        .merge(caller::router())
        .merge(webhook_endpoints::router())
        .merge(webhook_deliveries::router())
        .merge(leaks::router())
        .merge(health::router())
}

/// `X-Next-Cursor` and `Link: <…>; rel="next"` for a list response.
pub fn pagination_headers(
    path: &str,
    next_cursor: Option<&str>,
    limit: Option<u32>,
    extra: &[(&str, String)],
) -> HeaderMap {
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

/// A page as a list response: the items as the JSON body, the next cursor in
/// `X-Next-Cursor` and `Link` (`docs/architecture.md#http-conventions`);
/// `extra` are the list's filters, repeated in the next page's link.
pub fn list_response<T: serde::Serialize>(
    path: &str,
    page: Page<T>,
    limit: Option<u32>,
    extra: &[(&str, String)],
) -> Response {
    let headers = pagination_headers(path, page.next_cursor.as_deref(), limit, extra);
    (headers, axum::Json(page.items)).into_response()
}

/// PATCH fields that `null` cannot clear: absent leaves them alone, and a
/// `null` is refused (400 naming the field) instead of being read as absent,
/// so the body means what the spec says (they are not nullable there).
pub mod not_null {
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<T>::deserialize(d)? {
            Some(value) => Ok(Some(value)),
            None => Err(D::Error::custom("cannot be null: leave it out to keep the current value")),
        }
    }
}

/// PATCH fields where `null` (clear) differs from absent (leave alone).
pub mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
