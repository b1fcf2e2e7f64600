//! `/v1/api-keys`: the canonical, project-level key family (DTOs, the key
//! lifecycle shared with the organization family, handlers, router).

use super::{Page, PageQuery, nullable, pagination_headers, validate};
use crate::{
    auth::{Caller, Permission},
    error::{ApiError, ApiResult, ErrorBody},
    extract::{ApiJson, ApiQuery, IdPath, OptionalJson},
    keyfmt,
    state::AppState,
    store::{self, AuditRecord, KeyRecord, ProjectRecord, Warning, now_ms},
    webhooks::{self, WebhookEventType},
};
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub const TAG: &str = "api-keys";
pub const DEFAULT_ENVIRONMENT: &str = "live";
const MAX_GRACE_SECONDS: u64 = 365 * 24 * 3600;

// ---------------------------------------------------------------- DTOs

/// Requests allowed per window for one key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests (verify `cost` units) allowed per window: 1 to 1 000 000 000.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub limit: u64,
    /// Window length in milliseconds: 1 000 ms to 1 day.
    #[schema(minimum = 1_000, maximum = 86_400_000)]
    pub window_ms: u64,
}

/// Credits a key may spend in total, optionally refilled on an interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageLimit {
    /// Credits left; each verify spends `cost` (default 1).
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    pub remaining: u64,
    pub refill: Option<UsageRefill>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageRefill {
    /// `remaining` is reset to this amount every interval.
    #[schema(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)]
    pub amount: u64,
    /// Interval in milliseconds: 1 000 ms to 366 days.
    #[schema(minimum = 1_000, maximum = 31_622_400_000_u64)]
    pub interval_ms: u64,
}

/// How a key came to be; recorded by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Api,
    Dashboard,
    Bootstrap,
    Rotation,
    Import,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Dashboard => "dashboard",
            Self::Bootstrap => "bootstrap",
            Self::Rotation => "rotation",
            Self::Import => "import",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "dashboard" => Self::Dashboard,
            "bootstrap" => Self::Bootstrap,
            "rotation" => Self::Rotation,
            "import" => Self::Import,
            _ => Self::Api,
        }
    }
}

/// An API key as stored: masked (the plaintext is never retrievable).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", "organization_id": "0193a3c1-0000-7000-8000-000000000001",
    "project_id": null, "environment_id": "0193a3c1-0000-7000-8000-000000000002", "environment": "live",
    "name": "billing worker", "key_prefix": "kros_live_abc1", "last4": "x9Qz", "scopes": ["keys:verify"],
    "allowed_ips": [], "meta": {}, "expires_at": null, "last_used_at": null,
    "created_at": "2026-11-23T12:00:00Z", "updated_at": "2026-11-23T12:00:00Z", "revoked_at": null,
    "is_active": true, "created_by_user_id": null, "device_name": null, "source": "api", "rate_limit": null,
    "usage_limit": null, "usage_count": 0, "replaced_by_key_id": null, "grace_expires_at": null,
    "rotation_interval_days": null, "next_rotation_at": null, "rotation_webhook_url": null
}))]
pub struct ApiKey {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// `null` for an org-wide key.
    pub project_id: Option<Uuid>,
    pub environment_id: Uuid,
    /// Environment name, e.g. `live` or `test`.
    pub environment: String,
    pub name: String,
    /// `{prefix}_{env}_` plus the first 4 secret characters, e.g. `kros_live_abc1`.
    pub key_prefix: String,
    /// Last 4 characters of the key.
    pub last4: String,
    pub scopes: Vec<String>,
    /// IP addresses and CIDR blocks allowed to present the key; empty allows all.
    pub allowed_ips: Vec<String>,
    #[schema(value_type = Object)]
    pub meta: Map<String, Value>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the key stopped (or, during a rotation grace period, will stop) verifying.
    pub revoked_at: Option<DateTime<Utc>>,
    /// False when disabled by PATCH or revoked.
    pub is_active: bool,
    /// Set when a dashboard session created the key; null when a key did.
    pub created_by_user_id: Option<String>,
    pub device_name: Option<String>,
    pub source: KeySource,
    pub rate_limit: Option<RateLimit>,
    pub usage_limit: Option<UsageLimit>,
    /// Verifications counted so far.
    pub usage_count: i64,
    pub replaced_by_key_id: Option<Uuid>,
    pub grace_expires_at: Option<DateTime<Utc>>,
    pub rotation_interval_days: Option<u32>,
    pub next_rotation_at: Option<DateTime<Utc>>,
    pub rotation_webhook_url: Option<String>,
}

/// An API key with its plaintext `key`, returned once by create and regenerate.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The full key. Shown exactly once: store it now.
    pub key: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "billing worker", "project_id": "0193a3c1-0000-7000-8000-0000000000aa", "environment": "live", "scopes": ["keys:verify", "billing:*"], "allowed_ips": ["10.0.0.0/8"], "meta": {"team": "payments"}, "rate_limit": {"limit": 100, "window_ms": 60000}, "usage_limit": {"remaining": 10000, "refill": {"amount": 10000, "interval_ms": 2592000000u64}}, "expires_at": "2027-01-01T00:00:00Z"}))]
pub struct CreateApiKeyRequest {
    /// Project the key belongs to; defaults to the calling key's project (none: an org-wide key).
    pub project_id: Option<Uuid>,
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: String,
    /// At most 100 scopes (`[a-z0-9_:.*-]`, 1-100 characters each); defaults to the project's default scopes.
    #[schema(inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    pub scopes: Option<Vec<String>>,
    /// Must be in the future; defaults to now + the project's default TTL, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// At most 100 IP addresses or CIDR blocks (IPv4/IPv6).
    #[schema(inline, value_type = Option<Vec<validate::IpRule>>, max_items = 100)]
    pub allowed_ips: Option<Vec<String>>,
    /// Free-form JSON object that serializes to at most 4 096 bytes.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    pub rate_limit: Option<RateLimit>,
    pub usage_limit: Option<UsageLimit>,
    /// Environment name (default `live`): an existing environment of the organization.
    #[schema(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub environment: Option<String>,
    /// At most 200 characters, no control characters.
    #[schema(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub device_name: Option<String>,
    /// Rotate automatically every N days (1-3650).
    #[schema(minimum = 1, maximum = 3650)]
    pub rotation_interval_days: Option<u32>,
    /// Absolute http(s) URL of a public host (at most 2 048 characters); private, loopback and
    /// link-local targets are refused.
    #[schema(max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    pub rotation_webhook_url: Option<String>,
}

/// Partial update: absent fields are left alone; `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "billing worker (eu)", "is_active": false, "expires_at": null}))]
pub struct UpdateApiKeyRequest {
    /// 1-200 characters, not blank, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub name: Option<String>,
    /// At most 100 scopes (`[a-z0-9_:.*-]`, 1-100 characters each).
    #[schema(inline, value_type = Option<Vec<validate::Scope>>, max_items = 100)]
    pub scopes: Option<Vec<String>>,
    /// Must be in the future; `null` clears it.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// At most 100 IP addresses or CIDR blocks (IPv4/IPv6).
    #[schema(inline, value_type = Option<Vec<validate::IpRule>>, max_items = 100)]
    pub allowed_ips: Option<Vec<String>>,
    /// Free-form JSON object that serializes to at most 4 096 bytes.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<RateLimit>)]
    pub rate_limit: Option<Option<RateLimit>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<UsageLimit>)]
    pub usage_limit: Option<Option<UsageLimit>>,
    /// `false` disables the key without revoking it (verify answers DISABLED).
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// At most 200 characters, no control characters.
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub device_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// Rotate automatically every N days (1-3650); `null` stops it.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub rotation_interval_days: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable::deserialize")]
    /// Absolute http(s) URL of a public host (at most 2 048 characters).
    #[schema(value_type = Option<String>, max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    pub rotation_webhook_url: Option<Option<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"grace_period_seconds": 3600}))]
pub struct RotateApiKeyRequest {
    /// Seconds the old key keeps verifying, 0 to 1 year (0 or absent: revoked at once, unless the
    /// project sets a default).
    #[schema(minimum = 0, maximum = 31_536_000)]
    pub grace_period_seconds: Option<u64>,
}

/// The result of a rotation: a new key (new id, same settings) replacing the old one.
// No `Debug`: it holds a secret shown once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"old_key_id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", "new_key_id": "0193a3c2-1111-7b7a-9f1e-2b8c4d5e6f71", "project_id": null, "name": "billing worker", "key": "kros_live_4f9QkZ1x8cVb2NmA7sLp0RtYw3EuHj6DgKq2Wx", "key_prefix": "kros_live_4f9Q", "scopes": ["keys:verify"], "expires_at": null, "created_at": "2026-11-23T12:00:00Z", "grace_expires_at": "2026-11-23T13:00:00Z"}))]
pub struct RotatedApiKey {
    pub old_key_id: Uuid,
    pub new_key_id: Uuid,
    pub project_id: Option<Uuid>,
    pub name: String,
    /// The new key's plaintext. Shown exactly once.
    pub key: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Until when the old key still verifies; null when it was revoked at once.
    pub grace_expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListApiKeysQuery {
    /// Only keys of this project (a project key always sees only its own).
    pub project_id: Option<Uuid>,
    /// Only keys of this environment.
    #[param(min_length = 1, max_length = 16, pattern = r"^[a-z0-9]{1,16}$")]
    pub environment: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Cursor: the id of the last key of the previous page (from `X-Next-Cursor`).
    pub starting_after: Option<Uuid>,
}

// ---------------------------------------------------------------- conversions

pub use crate::domain::time::ms_to_time;

fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(ms_to_time)
}

fn parse_uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

pub fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

impl KeyRecord {
    pub fn rate_limit(&self) -> Option<RateLimit> {
        Some(RateLimit { limit: self.rate_limit_limit? as u64, window_ms: self.rate_limit_window_ms? as u64 })
    }
    pub fn usage_limit(&self) -> Option<UsageLimit> {
        Some(UsageLimit {
            remaining: self.usage_remaining?.max(0) as u64,
            refill: match (self.usage_refill_amount, self.usage_refill_interval_ms) {
                (Some(amount), Some(interval_ms)) => {
                    Some(UsageRefill { amount: amount as u64, interval_ms: interval_ms as u64 })
                }
                _ => None,
            },
        })
    }
}

impl From<&KeyRecord> for ApiKey {
    fn from(k: &KeyRecord) -> Self {
        let now = now_ms();
        ApiKey {
            id: parse_uuid(&k.id),
            organization_id: parse_uuid(&k.organization_id),
            project_id: k.project_id.as_deref().map(parse_uuid),
            environment_id: parse_uuid(&k.environment_id),
            environment: k.environment.clone(),
            name: k.name.clone(),
            key_prefix: k.key_prefix.clone(),
            last4: k.last4.clone(),
            scopes: json_list(&k.scopes),
            allowed_ips: json_list(&k.allowed_ips),
            meta: serde_json::from_str(&k.meta).unwrap_or_default(),
            expires_at: opt_time(k.expires_at),
            last_used_at: opt_time(k.last_used_at),
            created_at: ms_to_time(k.created_at),
            updated_at: ms_to_time(k.updated_at),
            revoked_at: opt_time(k.revoked_at),
            is_active: k.is_active != 0 && k.revoked_at.is_none_or(|at| at > now),
            created_by_user_id: k.created_by_user_id.clone(),
            device_name: k.device_name.clone(),
            source: KeySource::parse(&k.source),
            rate_limit: k.rate_limit(),
            usage_limit: k.usage_limit(),
            usage_count: k.usage_count,
            replaced_by_key_id: k.replaced_by_key_id.as_deref().map(parse_uuid),
            grace_expires_at: opt_time(k.grace_expires_at),
            rotation_interval_days: k.rotation_interval_days.map(|d| d as u32),
            next_rotation_at: opt_time(k.next_rotation_at),
            rotation_webhook_url: k.rotation_webhook_url.clone(),
        }
    }
}

/// A non-secret summary of a key for audit events.
pub fn audit_summary(k: &KeyRecord) -> Value {
    json!({
        "name": k.name, "key_prefix": k.key_prefix, "last4": k.last4, "project_id": k.project_id,
        "environment": k.environment, "scopes": json_list(&k.scopes), "allowed_ips": json_list(&k.allowed_ips),
        "expires_at": k.expires_at, "is_active": k.is_active != 0, "revoked_at": k.revoked_at,
        "rate_limit": k.rate_limit(), "usage_limit": k.usage_limit(),
    })
}

fn validate_rate_limit(field: &str, rl: &RateLimit) -> ApiResult<(i64, i64)> {
    Ok((
        validate::in_range(&format!("{field}.limit"), rl.limit, 1, 1_000_000_000)?,
        validate::in_range(&format!("{field}.window_ms"), rl.window_ms, 1_000, 86_400_000)?,
    ))
}

fn apply_usage_limit(k: &mut KeyRecord, field: &str, ul: Option<&UsageLimit>, now: i64) -> ApiResult<()> {
    match ul {
        None => {
            (k.usage_remaining, k.usage_refill_amount, k.usage_refill_interval_ms, k.usage_refilled_at) =
                (None, None, None, None)
        }
        Some(ul) => {
            k.usage_remaining =
                Some(validate::in_range(&format!("{field}.remaining"), ul.remaining, 0, i64::MAX as u64)?);
            match &ul.refill {
                None => (k.usage_refill_amount, k.usage_refill_interval_ms) = (None, None),
                Some(r) => {
                    k.usage_refill_amount =
                        Some(validate::in_range(&format!("{field}.refill.amount"), r.amount, 1, i64::MAX as u64)?);
                    k.usage_refill_interval_ms = Some(validate::in_range(
                        &format!("{field}.refill.interval_ms"),
                        r.interval_ms,
                        1_000,
                        366 * 86_400_000,
                    )?);
                }
            }
            k.usage_refilled_at = Some(now);
        }
    }
    Ok(())
}

fn apply_rotation(k: &mut KeyRecord, days: Option<u32>, now: i64) -> ApiResult<()> {
    k.rotation_interval_days =
        days.map(|d| validate::in_range("rotation_interval_days", d.into(), 1, 3650)).transpose()?;
    k.next_rotation_at = k.rotation_interval_days.map(|d| now + d * 86_400_000);
    Ok(())
}

// ---------------------------------------------------------------- lifecycle (shared with the org family)

/// Who changes a key: a caller of the API, or the server itself (the
/// rotation scheduler, a leak report).
#[derive(Clone, Copy)]
pub enum ChangedBy<'a> {
    Caller(&'a Caller),
    /// `actor_id` names the mechanism in the audit log, e.g. `scheduler`.
    System {
        organization_id: &'a str,
        actor_id: &'static str,
    },
}

impl ChangedBy<'_> {
    pub fn audit(&self, action: &str, key_id: &str, changes: Value) -> AuditRecord {
        match self {
            ChangedBy::Caller(caller) => caller.audit(action, "api_key", key_id, changes),
            ChangedBy::System { organization_id, actor_id } => {
                AuditRecord::new(*organization_id, "system", *actor_id, action, "api_key", key_id).changes(changes)
            }
        }
    }

    fn user_id(&self) -> Option<String> {
        match self {
            ChangedBy::Caller(caller) => caller.user_id().map(str::to_string),
            ChangedBy::System { .. } => None,
        }
    }
}

/// The audit event and the webhook event of one key change, on the change's transaction.
pub async fn record_change(
    conn: &mut store::Conn,
    by: ChangedBy<'_>,
    event: WebhookEventType,
    key: &KeyRecord,
    audit_changes: Value,
    webhook_extra: Value,
) -> ApiResult<()> {
    store::insert_audit(conn, &by.audit(event.as_str(), &key.id, audit_changes)).await?;
    webhooks::enqueue(conn, event, key, webhook_extra).await?;
    Ok(())
}

/// Loads a key the caller may see, or answers 404 (never 403: no enumeration).
pub async fn load_visible_key(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<KeyRecord> {
    let mut conn = state.store.pool().acquire().await?;
    let key = store::get_key(&mut conn, &caller.organization_id, &id.to_string())
        .await?
        .ok_or(ApiError::NotFound("api key"))?;
    if !caller.can_see_project(key.project_id.as_deref()) {
        return Err(ApiError::NotFound("api key"));
    }
    Ok(key)
}

async fn load_project(conn: &mut store::Conn, caller: &Caller, id: Uuid) -> ApiResult<ProjectRecord> {
    let id = id.to_string();
    if !caller.can_see_project(Some(&id)) {
        return Err(ApiError::NotFound("project"));
    }
    store::get_project(conn, &caller.organization_id, &id).await?.ok_or(ApiError::NotFound("project"))
}

pub async fn create_key(state: &AppState, caller: &Caller, req: CreateApiKeyRequest) -> ApiResult<(KeyRecord, String)> {
    caller.require(Permission::KeysWrite)?;
    let mut tx = state.store.begin().await?;
    let (key, minted) = prepare_key(state, &mut tx, caller, req, caller.key_source(), now_ms()).await?;
    store::insert_key(&mut tx, &key).await?;
    record_change(
        &mut tx,
        ChangedBy::Caller(caller),
        WebhookEventType::ApiKeyCreated,
        &key,
        json!({"after": audit_summary(&key)}),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate(&key.key_hash).await;
    tracing::info!(key_id = %key.id, key_prefix = %key.key_prefix, "api key created");
    Ok((key, minted.into_plaintext()))
}

/// A new key as `req` describes it, validated, with the project's defaults
/// applied and a fresh secret minted; nothing is written. `source` is the
/// server's word on how the key came to be, never the request's.
pub async fn prepare_key(
    state: &AppState,
    tx: &mut store::Conn,
    caller: &Caller,
    req: CreateApiKeyRequest,
    source: &'static str,
    now: i64,
) -> ApiResult<(KeyRecord, keyfmt::NewKey)> {
    let project_id = req.project_id.or_else(|| caller.project_id.as_deref().and_then(|p| Uuid::parse_str(p).ok()));
    let project = match project_id {
        Some(id) => Some(load_project(&mut *tx, caller, id).await?),
        None => None,
    };
    let org = store::get_org(&mut *tx, &caller.organization_id).await?.ok_or(ApiError::NotFound("organization"))?;
    let environment_name = match &req.environment {
        Some(e) => validate::environment_name("environment", e)?,
        None => DEFAULT_ENVIRONMENT.to_string(),
    };
    let environment = store::find_environment(&mut *tx, &org.id, &environment_name)
        .await?
        .ok_or(ApiError::NotFound("environment"))?;

    let project_defaults = project.as_ref();
    let scopes = match (&req.scopes, project_defaults.and_then(|p| p.default_scopes.as_deref())) {
        (Some(s), _) => validate::scopes("scopes", s)?,
        (None, Some(defaults)) => json_list(defaults),
        (None, None) => Vec::new(),
    };
    // The ceiling applies to the effective scopes: defaults are a grant too.
    caller.require_grantable("scopes", &scopes)?;
    let expires_at = match (req.expires_at, project_defaults.and_then(|p| p.default_ttl_seconds)) {
        (Some(t), _) => Some(validate::future_time("expires_at", t)?),
        (None, Some(ttl)) => Some(now + ttl * 1000),
        (None, None) => None,
    };
    let rate_limit = match (&req.rate_limit, project_defaults.and_then(|p| p.default_rate_limit.as_deref())) {
        (Some(rl), _) => Some(validate_rate_limit("rate_limit", rl)?),
        (None, Some(text)) => {
            serde_json::from_str::<RateLimit>(text).ok().map(|rl| (rl.limit as i64, rl.window_ms as i64))
        }
        (None, None) => None,
    };
    let prefix = project.as_ref().and_then(|p| p.key_prefix.clone()).unwrap_or(org.key_prefix.clone());
    let minted = keyfmt::generate(&prefix, &environment.name);
    let mut key = KeyRecord {
        project_id: project.as_ref().map(|p| p.id.clone()),
        name: validate::name("name", &req.name)?,
        scopes: serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into()),
        allowed_ips: serde_json::to_string(&validate::allowed_ips(
            "allowed_ips",
            req.allowed_ips.as_deref().unwrap_or_default(),
        )?)
        .unwrap_or_else(|_| "[]".into()),
        meta: validate::meta("meta", &req.meta.unwrap_or_default())?,
        expires_at,
        created_by_user_id: caller.user_id().map(str::to_string),
        device_name: validate::optional_text("device_name", req.device_name.as_deref(), 200)?,
        source: source.to_string(),
        rate_limit_limit: rate_limit.map(|r| r.0),
        rate_limit_window_ms: rate_limit.map(|r| r.1),
        rotation_webhook_url: req
            .rotation_webhook_url
            .as_deref()
            .map(|u| super::webhook_endpoints::webhook_target(state, "rotation_webhook_url", u))
            .transpose()?,
        ..KeyRecord::fresh(&org.id, &environment, &minted, now)
    };
    apply_usage_limit(&mut key, "usage_limit", req.usage_limit.as_ref(), now)?;
    apply_rotation(&mut key, req.rotation_interval_days, now)?;
    Ok((key, minted))
}

/// How many times a PATCH re-reads a key that changed under it before
/// answering 409: each retry means another writer committed in between.
const MAX_PATCH_ATTEMPTS: usize = 5;

pub async fn update_key(state: &AppState, caller: &Caller, id: Uuid, req: UpdateApiKeyRequest) -> ApiResult<KeyRecord> {
    caller.require(Permission::KeysWrite)?;
    for _ in 0..MAX_PATCH_ATTEMPTS {
        let before = load_visible_key(state, caller, id).await?;
        caller.require_key_manage(before.created_by_user_id.as_deref())?;
        let now = now_ms();
        if before.revoked_at.is_some_and(|at| at <= now) {
            return Err(ApiError::conflict("api key is revoked and can no longer be changed"));
        }
        let key = patched(state, &before, &req, now)?;
        // Changing a key is granting what it holds afterwards.
        caller.require_grantable("scopes", &json_list(&key.scopes))?;

        let mut tx = state.store.begin().await?;
        let Some(stored_hash) = store::update_key_settings(&mut tx, &key, before.updated_at).await? else {
            continue; // another write came first: read it and apply the PATCH to that
        };
        if req.usage_limit.is_some() {
            store::set_usage_limit(&mut tx, &key).await?;
        }
        // A moved date gets its own warning.
        if key.expires_at != before.expires_at {
            store::reset_warning(&mut tx, Warning::Expiring, &key.id).await?;
        }
        if key.next_rotation_at != before.next_rotation_at {
            store::reset_warning(&mut tx, Warning::RotationDue, &key.id).await?;
        }
        record_change(
            &mut tx,
            ChangedBy::Caller(caller),
            WebhookEventType::ApiKeyUpdated,
            &key,
            json!({"before": audit_summary(&before), "after": audit_summary(&key)}),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        state.keys.invalidate(&stored_hash).await;
        return Ok(key);
    }
    Err(ApiError::conflict("api key is being changed concurrently; retry the request"))
}

/// `before` with `req` applied and validated; nothing is written. The new
/// `updated_at` always moves past the old one, so the compare-and-swap of a
/// concurrent PATCH that read `before` fails even within one millisecond.
fn patched(state: &AppState, before: &KeyRecord, req: &UpdateApiKeyRequest, now: i64) -> ApiResult<KeyRecord> {
    let mut key = before.clone();
    if let Some(name) = &req.name {
        key.name = validate::name("name", name)?;
    }
    if let Some(scopes) = &req.scopes {
        key.scopes = serde_json::to_string(&validate::scopes("scopes", scopes)?).unwrap_or_else(|_| "[]".into());
    }
    if let Some(expires_at) = req.expires_at {
        key.expires_at = expires_at.map(|t| validate::future_time("expires_at", t)).transpose()?;
    }
    if let Some(ips) = &req.allowed_ips {
        key.allowed_ips =
            serde_json::to_string(&validate::allowed_ips("allowed_ips", ips)?).unwrap_or_else(|_| "[]".into());
    }
    if let Some(meta) = &req.meta {
        key.meta = validate::meta("meta", meta)?;
    }
    if let Some(rate_limit) = req.rate_limit {
        let rl = rate_limit.as_ref().map(|rl| validate_rate_limit("rate_limit", rl)).transpose()?;
        (key.rate_limit_limit, key.rate_limit_window_ms) = (rl.map(|r| r.0), rl.map(|r| r.1));
    }
    if let Some(active) = req.is_active {
        key.is_active = i64::from(active);
    }
    if let Some(device_name) = &req.device_name {
        key.device_name = validate::optional_text("device_name", device_name.as_deref(), 200)?;
    }
    if let Some(days) = req.rotation_interval_days {
        apply_rotation(&mut key, days, now)?;
    }
    if let Some(url) = &req.rotation_webhook_url {
        key.rotation_webhook_url = url
            .as_deref()
            .map(|u| super::webhook_endpoints::webhook_target(state, "rotation_webhook_url", u))
            .transpose()?;
    }
    if let Some(usage_limit) = &req.usage_limit {
        apply_usage_limit(&mut key, "usage_limit", usage_limit.as_ref(), now)?;
    }
    key.updated_at = now.max(before.updated_at + 1);
    Ok(key)
}

/// Idempotent: revoking a revoked key changes nothing and still succeeds.
pub async fn revoke_key(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<()> {
    caller.require(Permission::KeysWrite)?;
    let key = load_visible_key(state, caller, id).await?;
    caller.require_key_manage(key.created_by_user_id.as_deref())?;
    revoke_record(state, ChangedBy::Caller(caller), &key, WebhookEventType::ApiKeyRevoked, json!({}), json!({}))
        .await?;
    Ok(())
}

/// Revokes `key` now (a no-op when it already is), announcing it as `event`
/// with `extra` in the audit changes and the webhook data.
pub async fn revoke_record(
    state: &AppState,
    by: ChangedBy<'_>,
    key: &KeyRecord,
    event: WebhookEventType,
    audit_extra: Value,
    webhook_extra: Value,
) -> ApiResult<bool> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let revoked_hash = store::revoke_key(&mut tx, &key.id, now).await?;
    if revoked_hash.is_some() {
        let mut after = key.clone();
        (after.revoked_at, after.is_active, after.updated_at) = (Some(now), 0, now);
        let mut changes = json!({"before": audit_summary(key)});
        if let (Some(c), Value::Object(extra)) = (changes.as_object_mut(), audit_extra) {
            c.extend(extra);
        }
        record_change(&mut tx, by, event, &after, changes, webhook_extra).await?;
    }
    tx.commit().await?;
    state.keys.invalidate(&key.key_hash).await;
    // A regenerate between our read and the revoke changed the hash.
    if let Some(hash) = revoked_hash.as_deref().filter(|h| *h != key.key_hash) {
        state.keys.invalidate(hash).await;
    }
    Ok(revoked_hash.is_some())
}

fn base_prefix(key: &KeyRecord) -> &str {
    key.key_prefix.split('_').next().unwrap_or("kw")
}

fn ensure_rotatable(key: &KeyRecord, action: &str) -> ApiResult<()> {
    if key.revoked_at.is_some() && key.replaced_by_key_id.is_none() {
        return Err(ApiError::conflict(format!("cannot {action} a revoked api key")));
    }
    if key.replaced_by_key_id.is_some() {
        return Err(ApiError::conflict(format!("cannot {action} an api key that was already replaced by rotation")));
    }
    Ok(())
}

/// Same id, new secret; the old secret stops verifying at once.
pub async fn regenerate_key(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<(KeyRecord, String)> {
    caller.require(Permission::KeysWrite)?;
    let before = load_visible_key(state, caller, id).await?;
    caller.require_key_manage(before.created_by_user_id.as_deref())?;
    // A new secret for a key is a grant of everything it holds.
    caller.require_grantable("scopes", &json_list(&before.scopes))?;
    ensure_rotatable(&before, "regenerate")?;
    let minted = keyfmt::generate(base_prefix(&before), &before.environment);
    let mut key = before.clone();
    key.key_hash = minted.hash.clone();
    key.key_prefix = minted.key_prefix.clone();
    key.last4 = minted.last4.clone();
    key.updated_at = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::replace_secret(&mut tx, &key).await? {
        return Err(ApiError::conflict("api key was revoked or rotated concurrently"));
    }
    record_change(
        &mut tx,
        ChangedBy::Caller(caller),
        WebhookEventType::ApiKeyRegenerated,
        &key,
        json!({"before": {"key_prefix": before.key_prefix, "last4": before.last4}, "after": {"key_prefix": key.key_prefix, "last4": key.last4}}),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate(&before.key_hash).await;
    state.keys.invalidate(&key.key_hash).await;
    Ok((key, minted.into_plaintext()))
}

/// A new key (new id, same settings) replaces the old one, which keeps
/// verifying until the grace period ends.
pub async fn rotate_key(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    grace_seconds: Option<u64>,
) -> ApiResult<RotatedApiKey> {
    caller.require(Permission::KeysWrite)?;
    let old = load_visible_key(state, caller, id).await?;
    caller.require_key_manage(old.created_by_user_id.as_deref())?;
    caller.require_grantable("scopes", &json_list(&old.scopes))?;
    let grace_seconds =
        grace_seconds.map(|g| validate::in_range("grace_period_seconds", g, 0, MAX_GRACE_SECONDS)).transpose()?;
    rotate_record(state, ChangedBy::Caller(caller), &old, grace_seconds, 0).await
}

/// Rotates `old`: a new key (new id, same settings, the schedule carried
/// over) replaces it; `old` keeps verifying for `grace_seconds`, else the
/// project's default grace period, else `fallback_grace_seconds`.
pub async fn rotate_record(
    state: &AppState,
    by: ChangedBy<'_>,
    old: &KeyRecord,
    grace_seconds: Option<i64>,
    fallback_grace_seconds: i64,
) -> ApiResult<RotatedApiKey> {
    ensure_rotatable(old, "rotate")?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let grace_seconds = match grace_seconds {
        Some(g) => g,
        None => match &old.project_id {
            Some(pid) => store::get_project(&mut tx, &old.organization_id, pid)
                .await?
                .and_then(|p| p.default_grace_period_seconds)
                .unwrap_or(fallback_grace_seconds),
            None => fallback_grace_seconds,
        },
    };
    let grace_expires_at = (grace_seconds > 0).then(|| now + grace_seconds * 1000);
    let minted = keyfmt::generate(base_prefix(old), &old.environment);
    let mut new = old.clone();
    new.id = Uuid::now_v7().to_string();
    new.key_hash = minted.hash.clone();
    new.key_prefix = minted.key_prefix.clone();
    new.last4 = minted.last4.clone();
    (new.created_at, new.updated_at, new.last_used_at, new.usage_count) = (now, now, None, 0);
    new.source = KeySource::Rotation.as_str().to_string();
    new.created_by_user_id = by.user_id();
    (new.replaced_by_key_id, new.grace_expires_at, new.revoked_at) = (None, None, None);
    new.next_rotation_at = new.rotation_interval_days.map(|d| now + d * 86_400_000);

    let Some(replaced_hash) =
        store::mark_replaced(&mut tx, &old.id, &new.id, grace_expires_at.unwrap_or(now), grace_expires_at, now).await?
    else {
        return Err(ApiError::conflict("api key was revoked or rotated concurrently"));
    };
    store::insert_key(&mut tx, &new).await?;
    let mut replaced = old.clone();
    (replaced.replaced_by_key_id, replaced.revoked_at, replaced.grace_expires_at) =
        (Some(new.id.clone()), Some(grace_expires_at.unwrap_or(now)), grace_expires_at);
    (replaced.next_rotation_at, replaced.updated_at) = (None, now);
    record_change(
        &mut tx,
        by,
        WebhookEventType::ApiKeyRotated,
        &replaced,
        json!({"new_key_id": new.id, "grace_expires_at": grace_expires_at, "after": audit_summary(&new)}),
        json!({"new_api_key": ApiKey::from(&new), "scheduled": matches!(by, ChangedBy::System { .. })}),
    )
    .await?;
    tx.commit().await?;
    state.keys.invalidate(&old.key_hash).await;
    // A regenerate between our read and the claim changed the hash.
    if replaced_hash != old.key_hash {
        state.keys.invalidate(&replaced_hash).await;
    }
    state.keys.invalidate(&new.key_hash).await;
    Ok(RotatedApiKey {
        old_key_id: parse_uuid(&old.id),
        new_key_id: parse_uuid(&new.id),
        project_id: new.project_id.as_deref().map(parse_uuid),
        name: new.name.clone(),
        key: minted.into_plaintext(),
        key_prefix: new.key_prefix.clone(),
        scopes: json_list(&new.scopes),
        expires_at: opt_time(new.expires_at),
        created_at: ms_to_time(now),
        grace_expires_at: opt_time(grace_expires_at),
    })
}

/// One page of the keys the caller can see, newest first.
pub async fn list_keys(
    state: &AppState,
    caller: &Caller,
    project_id: Option<Uuid>,
    environment: Option<&str>,
    page: &PageQuery,
) -> ApiResult<Page<ApiKey>> {
    caller.require(Permission::KeysRead)?;
    let project_id = project_id.map(|p| p.to_string());
    let project_filter = match (&caller.project_id, &project_id) {
        (Some(own), Some(asked)) if own != asked => return Ok(Page::empty()),
        (Some(own), _) => Some(own.as_str()),
        (None, asked) => asked.as_deref(),
    };
    let limit = page.limit()?;
    let after = page.starting_after.map(|u| u.to_string());
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_keys(
        &mut conn,
        &store::KeyFilter {
            organization_id: &caller.organization_id,
            project_id: project_filter,
            environment,
            starting_after: after.as_deref(),
            limit: limit + 1,
        },
    )
    .await?;
    Ok(Page::from_rows(rows.iter().map(ApiKey::from).collect(), limit, |k| k.id.to_string()))
}

// ---------------------------------------------------------------- handlers

/// List API keys
///
/// Newest first. When more keys exist, the response carries the next cursor in
/// `X-Next-Cursor` and a `Link: <…>; rel="next"` header.
#[utoipa::path(get, path = "/v1/api-keys", tag = TAG, operation_id = "list_api_keys",
    params(ListApiKeysQuery),
    responses(
        (status = 200, description = "A page of keys", body = Vec<ApiKey>,
            headers(("X-Next-Cursor" = String, description = "Cursor for the next page; absent on the last page"),
                    ("Link" = String, description = "RFC 8288 link to the next page"))),
        (status = 400, description = "Invalid query parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:read` scope", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListApiKeysQuery>,
) -> ApiResult<Response> {
    let environment = q.environment.as_deref().map(|e| validate::environment_name("environment", e)).transpose()?;
    let page_query = PageQuery { limit: q.limit, starting_after: q.starting_after };
    let page = list_keys(&state, &caller, q.project_id, environment.as_deref(), &page_query).await?;
    let mut extra = Vec::new();
    if let Some(p) = q.project_id {
        extra.push(("project_id", p.to_string()));
    }
    if let Some(e) = environment {
        extra.push(("environment", e));
    }
    let headers = pagination_headers("/v1/api-keys", page.next_cursor.as_deref(), page_query.limit, &extra);
    Ok((headers, axum::Json(page.items)).into_response())
}

/// Create an API key
///
/// Returns the key with its plaintext `key`, shown exactly once.
#[utoipa::path(post, path = "/v1/api-keys", tag = TAG, operation_id = "create_api_key",
    request_body = CreateApiKeyRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h when repeated with the same body")),
    responses(
        (status = 201, description = "Created; `key` is the plaintext, shown once", body = CreatedApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "The `project_id` or `environment` named does not exist", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused with a different body", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    let (key, plaintext) = create_key(&state, &caller, req).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedApiKey { api_key: ApiKey::from(&key), key: plaintext })))
}

/// Get an API key
///
/// The key is masked: only `key_prefix` and `last4` of the secret are shown.
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = TAG, operation_id = "get_api_key",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 200, description = "The key", body = ApiKey),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:read` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<ApiKey>> {
    caller.require(Permission::KeysRead)?;
    Ok(axum::Json(ApiKey::from(&load_visible_key(&state, &caller, id).await?)))
}

/// Update an API key
///
/// Partial update; `is_active: false` disables the key without revoking it.
#[utoipa::path(patch, path = "/v1/api-keys/{id}", tag = TAG, operation_id = "update_api_key",
    params(("id" = Uuid, Path, description = "API key id")),
    request_body = UpdateApiKeyRequest,
    responses(
        (status = 200, description = "The updated key", body = ApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
        (status = 409, description = "The key is revoked", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateApiKeyRequest>,
) -> ApiResult<axum::Json<ApiKey>> {
    Ok(axum::Json(ApiKey::from(&update_key(&state, &caller, id, req).await?)))
}

/// Revoke an API key
///
/// Idempotent: revoking a revoked key answers 204 too.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = TAG, operation_id = "revoke_api_key",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    revoke_key(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Regenerate an API key
///
/// Same id, new secret; the old secret stops verifying at once.
#[utoipa::path(post, path = "/v1/api-keys/{id}/regenerate", tag = TAG, operation_id = "regenerate_api_key",
    params(("id" = Uuid, Path, description = "API key id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    responses(
        (status = 200, description = "The key with its new plaintext `key`, shown once", body = CreatedApiKey),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
        (status = 409, description = "The key is revoked or was replaced", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn regenerate_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<CreatedApiKey>> {
    let (key, plaintext) = regenerate_key(&state, &caller, id).await?;
    Ok(axum::Json(CreatedApiKey { api_key: ApiKey::from(&key), key: plaintext }))
}

/// Rotate an API key
///
/// Creates a new key (new id, same settings). Without a grace period the old
/// key is revoked at once; with one it keeps verifying until `grace_expires_at`.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = TAG, operation_id = "rotate_api_key",
    params(("id" = Uuid, Path, description = "API key id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 h")),
    request_body(content = Option<RotateApiKeyRequest>, description = "Optional; an empty body uses the project's default grace period"),
    responses(
        (status = 201, description = "The new key; `key` is its plaintext, shown once", body = RotatedApiKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 403, description = "Missing the `keys:write` scope", body = ErrorBody),
        (status = 404, description = "No such key in this organization", body = ErrorBody),
        (status = 409, description = "The key is revoked or was already replaced", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn rotate_api_key(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    OptionalJson(req): OptionalJson<RotateApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<RotatedApiKey>)> {
    Ok((StatusCode::CREATED, axum::Json(rotate_key(&state, &caller, id, req.grace_period_seconds).await?)))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key, update_api_key, revoke_api_key))
        .routes(routes!(regenerate_api_key))
        .routes(routes!(rotate_api_key))
}
