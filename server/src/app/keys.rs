//! The key lifecycle: create, change, revoke, regenerate, rotate and list
//! API keys, for the API, import, leak reports, verify's quota refusal and
//! the scheduler alike. Every change is one unit of work: the write, its
//! audit event and its webhook outbox rows in one transaction, then the
//! key's hash dropped from every replica's cache
//! (`docs/architecture.md#the-unit-of-work-for-a-key-change`).

use crate::{
    app::AppState,
    app::caller::Caller,
    app::cas::compare_and_swap,
    app::pagination::{Page, PageQuery},
    app::validate,
    domain::{
        access::Permission,
        keys::{KeySource, RateLimit, UsageLimit, UsageRefill, json_list},
        time::ms_to_time,
    },
    error::{ApiError, ApiResult},
    keyfmt,
    store::{self, AuditRecord, KeyId, KeyRecord, OrgId, ProjectId, Warning, now_ms},
    webhooks::WebhookEventType,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

pub const DEFAULT_ENVIRONMENT: &str = "live";
pub const MAX_GRACE_SECONDS: u64 = 365 * 24 * 3600;

// ---------------------------------------------------------------- inputs

/// A key to create, as a caller asks for it (the API maps its request body
/// here; import maps each item). Unset fields take the project's defaults.
#[derive(Debug, Default, Clone)]
pub struct NewKey {
    pub project_id: Option<Uuid>,
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub allowed_ips: Option<Vec<String>>,
    pub meta: Option<Map<String, Value>>,
    pub rate_limit: Option<RateLimit>,
    pub usage_limit: Option<UsageLimit>,
    pub environment: Option<String>,
    pub device_name: Option<String>,
    pub rotation_interval_days: Option<u32>,
    pub rotation_webhook_url: Option<String>,
}

/// A partial change: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Default, Clone)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub allowed_ips: Option<Vec<String>>,
    pub meta: Option<Map<String, Value>>,
    pub rate_limit: Option<Option<RateLimit>>,
    pub usage_limit: Option<Option<UsageLimit>>,
    pub is_active: Option<bool>,
    pub device_name: Option<Option<String>>,
    pub rotation_interval_days: Option<Option<u32>>,
    pub rotation_webhook_url: Option<Option<String>>,
}

/// A rotation's outcome: the replaced key's id, the successor, its
/// plaintext (shown once) and until when the old key still verifies.
pub struct RotatedKey {
    pub old_key_id: KeyId,
    pub new: KeyRecord,
    pub plaintext: String,
    pub grace_expires_at: Option<i64>,
}

/// An API key as stored: masked (the plaintext is never retrievable).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", "organization_id": "0193a3c1-0000-7000-8000-000000000001",
    "project_id": null, "environment_id": "0193a3c1-0000-7000-8000-000000000002", "environment": "live",
    "name": "billing worker", "key_prefix": "kros_live_abc1", "last4": "x9Qz", "scopes": ["keys:verify"],
    "allowed_ips": [], "meta": {}, "expires_at": null, "last_used_at": null,
    "created_at": "2026-11-23T12:00:00Z", "updated_at": "2026-11-23T12:00:00Z", "revoked_at": null,
    "is_active": true, "created_by_user_id": null, "device_name": null, "source": "api",
    "rate_limit": {"limit": 100, "window_ms": 60000},
    "usage_limit": {"remaining": 10000, "refill": {"amount": 10000, "interval_ms": 2592000000u64}}, "usage_count": 0, "replaced_by_key_id": null, "grace_expires_at": null,
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
    #[schema(schema_with = crate::app::validate::meta_schema)]
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

// ---------------------------------------------------------------- the key as shown

fn opt_time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(ms_to_time)
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
            id: k.id.uuid(),
            organization_id: k.organization_id.uuid(),
            project_id: k.project_id.map(ProjectId::uuid),
            environment_id: k.environment_id.uuid(),
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
            replaced_by_key_id: k.replaced_by_key_id.map(KeyId::uuid),
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
        organization_id: OrgId,
        actor_id: &'static str,
    },
}

impl ChangedBy<'_> {
    pub fn audit(&self, action: &str, key_id: KeyId, changes: Value) -> AuditRecord {
        match self {
            ChangedBy::Caller(caller) => caller.audit(action, "api_key", key_id, changes),
            ChangedBy::System { organization_id, actor_id } => {
                AuditRecord::new(*organization_id, "system", *actor_id, action, "api_key", key_id.to_string())
                    .changes(changes)
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
    store::insert_audit(conn, &by.audit(event.as_str(), key.id, audit_changes)).await?;
    crate::app::outbox::enqueue(conn, event, key, webhook_extra).await?;
    Ok(())
}

/// Loads a key the caller may see, or answers 404 (never 403: no enumeration).
pub async fn load_visible_key(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<KeyRecord> {
    let mut conn = state.store.pool().acquire().await?;
    let key = store::get_key(&mut conn, &caller.organization_id, &KeyId::from(id))
        .await?
        .ok_or(ApiError::NotFound("api key"))?;
    if !caller.can_see_project(key.project_id) {
        return Err(ApiError::NotFound("api key"));
    }
    Ok(key)
}

pub async fn create_key(state: &AppState, caller: &Caller, req: NewKey) -> ApiResult<(KeyRecord, String)> {
    caller.require(Permission::KeysWrite)?;
    let mut tx = state.store.begin().await?;
    let (key, minted) =
        prepare_key(state, &mut tx, caller, req, caller.key_source(), state.config.clock.now_ms()).await?;
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
    req: NewKey,
    source: &'static str,
    now: i64,
) -> ApiResult<(KeyRecord, keyfmt::NewKey)> {
    let project_id = req.project_id.or_else(|| caller.project_id.map(ProjectId::uuid));
    let project = match project_id {
        Some(id) => Some(crate::app::projects::visible_project(&mut *tx, caller, id).await?),
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
        (Some(t), _) => Some(validate::future_time("expires_at", t, now)?),
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
        project_id: project.as_ref().map(|p| p.id),
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
            .map(|u| validate::webhook_target(state.config.webhook_allow_private, "rotation_webhook_url", u))
            .transpose()?,
        ..KeyRecord::fresh(&org.id, &environment, &minted, now)
    };
    apply_usage_limit(&mut key, "usage_limit", req.usage_limit.as_ref(), now)?;
    apply_rotation(&mut key, req.rotation_interval_days, now)?;
    Ok((key, minted))
}

pub async fn update_key(state: &AppState, caller: &Caller, id: Uuid, req: KeyChanges) -> ApiResult<KeyRecord> {
    caller.require(Permission::KeysWrite)?;
    compare_and_swap("api key", || async {
        let before = load_visible_key(state, caller, id).await?;
        caller.require_key_manage(before.created_by_user_id.as_deref())?;
        let now = state.config.clock.now_ms();
        if before.revoked_at.is_some_and(|at| at <= now) {
            return Err(ApiError::conflict("api key is revoked and can no longer be changed"));
        }
        let key = patched(state, &before, &req, now)?;
        // Changing a key is granting what it holds afterwards.
        caller.require_grantable("scopes", &json_list(&key.scopes))?;

        let mut tx = state.store.begin().await?;
        let Some(stored_hash) = store::update_key_settings(&mut tx, &key, before.updated_at).await? else {
            return Ok(None); // another write came first: read it and apply the PATCH to that
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
        Ok(Some(key))
    })
    .await
}

/// `before` with `req` applied and validated; nothing is written. The new
/// `updated_at` always moves past the old one, so the compare-and-swap of a
/// concurrent PATCH that read `before` fails even within one millisecond.
fn patched(state: &AppState, before: &KeyRecord, req: &KeyChanges, now: i64) -> ApiResult<KeyRecord> {
    let mut key = before.clone();
    if let Some(name) = &req.name {
        key.name = validate::name("name", name)?;
    }
    if let Some(scopes) = &req.scopes {
        key.scopes = serde_json::to_string(&validate::scopes("scopes", scopes)?).unwrap_or_else(|_| "[]".into());
    }
    if let Some(expires_at) = req.expires_at {
        key.expires_at = expires_at.map(|t| validate::future_time("expires_at", t, now)).transpose()?;
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
            .map(|u| validate::webhook_target(state.config.webhook_allow_private, "rotation_webhook_url", u))
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
    let now = state.config.clock.now_ms();
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

/// Revokes, on `tx`, every key of an organization (or of one of its
/// projects) that still verifies, announcing each as `api_key.revoked` with
/// `reason` exactly as a revoke through the API does (audit event and outbox
/// rows), so a receiver hears of every key a deletion took. Returns every
/// hash of the scope, to drop from the cache once `tx` commits, and how many
/// keys this revoked.
pub async fn revoke_all_in(
    tx: &mut store::Conn,
    by: ChangedBy<'_>,
    organization_id: &OrgId,
    project_id: Option<&ProjectId>,
    reason: &str,
    now: i64,
) -> ApiResult<(Vec<String>, u64)> {
    let live = store::live_keys_of(&mut *tx, organization_id, project_id, now).await?;
    let (hashes, revoked) = store::revoke_keys_of(&mut *tx, organization_id, project_id, now).await?;
    for key in live {
        let changes = json!({"before": audit_summary(&key), "reason": reason});
        let after = KeyRecord { revoked_at: Some(now), is_active: 0, updated_at: now, ..key };
        record_change(&mut *tx, by, WebhookEventType::ApiKeyRevoked, &after, changes, json!({"reason": reason}))
            .await?;
    }
    Ok((hashes, revoked))
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
    key.updated_at = state.config.clock.now_ms();
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
) -> ApiResult<RotatedKey> {
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
) -> ApiResult<RotatedKey> {
    ensure_rotatable(old, "rotate")?;
    let now = state.config.clock.now_ms();
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
    new.id = KeyId::new();
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
        (Some(new.id), Some(grace_expires_at.unwrap_or(now)), grace_expires_at);
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
    Ok(RotatedKey { old_key_id: old.id, new, plaintext: minted.into_plaintext(), grace_expires_at })
}

/// Up to `limit` keys the caller can see, newest first, after the key
/// `starting_after` (the caller pages; one row more tells there is a next page).
/// A page of the keys the caller can see (a project key: its project's),
/// newest first, optionally of one project and one environment; both key
/// families list through this.
pub async fn list_keys(
    state: &AppState,
    caller: &Caller,
    project_id: Option<Uuid>,
    environment: Option<&str>,
    page: &PageQuery,
) -> ApiResult<Page<KeyRecord>> {
    caller.require(Permission::KeysRead)?;
    let environment = environment.map(|e| validate::environment_name("environment", e)).transpose()?;
    let limit = page.limit()?;
    let project_id = project_id.map(ProjectId::from);
    let project_filter = match (&caller.project_id, &project_id) {
        (Some(own), Some(asked)) if own != asked => return Ok(Page::empty()),
        (Some(own), _) => Some(own),
        (None, asked) => asked.as_ref(),
    };
    let mut conn = state.store.pool().acquire().await?;
    let rows = store::list_keys(
        &mut conn,
        &store::KeyFilter {
            organization_id: &caller.organization_id,
            project_id: project_filter,
            environment: environment.as_deref(),
            starting_after: page.after().as_deref(),
            limit: limit + 1,
        },
    )
    .await?;
    Ok(Page::from_rows(rows, limit, |k| k.id.to_string()))
}
