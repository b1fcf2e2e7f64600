//! `POST /v1/api-keys/import`: bring keys over from a hand-rolled key table
//! without re-issuing them. A key arrives as the SHA-256 of its full text
//! (what such tables usually store) plus how to display it; it then lists,
//! verifies, rotates and revokes like a native key. Its format need not
//! carry our checksum: verify finds it by hash.

use super::api_keys::{ApiKey, NewKey, RateLimit, UsageLimit};
use super::validate;
use crate::{
    app::{self, AppState, import::KeyToImport},
    auth::Caller,
    error::{ApiResult, ErrorBody},
    extract::ApiJson,
};
use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use crate::app::import::MAX_IMPORT;

/// An existing key, known by its hash.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "key_prefix": "sk_live_ab12", "last4": "x9Qz", "name": "legacy billing key", "scopes": ["billing:*"]}))]
pub struct ImportedApiKey {
    /// SHA-256 of the full key text, 64 hex characters.
    #[schema(min_length = 64, max_length = 64, pattern = r"^[0-9a-fA-F]{64}$")]
    pub key_hash: String,
    /// What people see of the key, e.g. `sk_live_ab12` (1-32 printable ASCII characters).
    #[schema(min_length = 1, max_length = 32, pattern = r"^[\x21-\x7E]{1,32}$")]
    pub key_prefix: String,
    /// The key's last 4 characters, if known (1-4 printable ASCII characters).
    #[schema(min_length = 1, max_length = 4, pattern = r"^[\x21-\x7E]{1,4}$")]
    pub last4: Option<String>,
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// Defaults to the calling key's project (none: an org-wide key).
    pub project_id: Option<Uuid>,
    /// Environment name (default `live`): an existing environment of the organization.
    #[schema(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub environment: Option<String>,
    /// At most 100 scopes (`[a-z0-9_:.*-]`, 1-100 characters each).
    #[schema(inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    pub scopes: Option<Vec<String>>,
    /// Must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
    /// At most 100 IP addresses or CIDR blocks (IPv4/IPv6).
    #[schema(inline, value_type = Option<Vec<validate::IpRule>>, max_items = 100)]
    pub allowed_ips: Option<Vec<String>>,
    #[schema(schema_with = validate::meta_input_schema)]
    pub meta: Option<Map<String, Value>>,
    pub rate_limit: Option<RateLimit>,
    pub usage_limit: Option<UsageLimit>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportApiKeysRequest {
    /// 1-100 keys; all are imported or none.
    #[schema(min_items = 1, max_items = 100)]
    pub keys: Vec<ImportedApiKey>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportApiKeysResponse {
    /// The imported keys, in request order (`source` = `import`).
    pub imported: Vec<ApiKey>,
}

/// Import API keys
///
/// Imports existing keys by the SHA-256 of their full text, so clients keep
/// using the keys they have. All or nothing; a hash already stored answers 409.
#[utoipa::path(post, path = "/v1/api-keys/import", tag = "api-keys", operation_id = "import_api_keys",
    request_body = ImportApiKeysRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h when repeated with the same body")),
    responses(
        (status = 201, description = "Imported", body = ImportApiKeysResponse),
        (status = 400, description = "Invalid field (named as `keys[i].field`)", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "A `project_id` or `environment` named does not exist", body = ErrorBody),
        (status = 409, description = "A key with this hash already exists", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn import_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ImportApiKeysRequest>,
) -> ApiResult<(StatusCode, Json<ImportApiKeysResponse>)> {
    let items = req.keys.into_iter().map(KeyToImport::from).collect();
    let imported = app::import::import_keys(&state, &caller, items).await?;
    Ok((StatusCode::CREATED, Json(ImportApiKeysResponse { imported: imported.iter().map(ApiKey::from).collect() })))
}

impl From<ImportedApiKey> for KeyToImport {
    fn from(item: ImportedApiKey) -> Self {
        KeyToImport {
            key_hash: item.key_hash,
            key_prefix: item.key_prefix,
            last4: item.last4,
            key: NewKey {
                project_id: item.project_id,
                name: item.name,
                scopes: item.scopes,
                expires_at: item.expires_at,
                allowed_ips: item.allowed_ips,
                meta: item.meta,
                rate_limit: item.rate_limit,
                usage_limit: item.usage_limit,
                environment: item.environment,
                ..Default::default()
            },
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_api_keys))
}
