//! Importing keys from a hand-rolled key table without re-issuing them. A key
//! arrives as the SHA-256 of its full text (what such tables usually store)
//! plus how to display it; it then lists, verifies, rotates and revokes like a
//! native key. Its format need not carry our checksum: verify finds it by
//! hash. All or nothing, in one unit of work.

use crate::{
    app::{
        AppState,
        caller::Caller,
        keys::{ChangedBy, NewKey, audit_summary, prepare_key, record_change},
    },
    domain::{access::Permission, keys::KeySource},
    error::{ApiError, ApiResult},
    store::{self, KeyRecord},
    webhooks::WebhookEventType,
};
use serde_json::json;
use std::sync::atomic::Ordering;

/// Keys one import request may carry.
pub const MAX_IMPORT: usize = 100;

/// One key to import: its hash, how it is displayed, and the settings a new key takes.
pub struct KeyToImport {
    pub key_hash: String,
    pub key_prefix: String,
    pub last4: Option<String>,
    pub key: NewKey,
}

/// Import `items` for `caller` (which needs `keys:write`); errors name their
/// field as `keys[i].field`.
pub async fn import_keys(state: &AppState, caller: &Caller, items: Vec<KeyToImport>) -> ApiResult<Vec<KeyRecord>> {
    caller.require(Permission::KeysWrite)?;
    if items.is_empty() || items.len() > MAX_IMPORT {
        return Err(ApiError::invalid_field("keys", format!("must hold 1-{MAX_IMPORT} keys")));
    }
    let now = state.config.clock.now_ms();
    let mut tx = state.store.begin().await?;
    let mut imported = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let key_hash = sha256_hex(&format!("keys[{i}].key_hash"), &item.key_hash)?;
        let key_prefix = display_text(&format!("keys[{i}].key_prefix"), &item.key_prefix, 32)?;
        let last4 = match &item.last4 {
            Some(l) => display_text(&format!("keys[{i}].last4"), l, 4)?,
            None => String::new(),
        };
        let (mut key, _unused_secret) = prepare_key(state, &mut tx, caller, item.key, KeySource::Import.as_str(), now)
            .await
            .map_err(|e| in_item(i, e))?;
        (key.key_hash, key.key_prefix, key.last4) = (key_hash, key_prefix, last4);
        if let Err(err) = store::insert_key(&mut tx, &key).await {
            return Err(if store::is_unique_violation(&err) {
                ApiError::conflict(format!("keys[{i}].key_hash: a key with this hash already exists"))
            } else {
                err.into()
            });
        }
        record_change(
            &mut tx,
            ChangedBy::Caller(caller),
            WebhookEventType::ApiKeyCreated,
            &key,
            json!({"after": audit_summary(&key), "imported": true}),
            json!({}),
        )
        .await?;
        imported.push(key);
    }
    tx.commit().await?;
    state.imported_keys.store(true, Ordering::Relaxed);
    for key in &imported {
        // A verify before the import may have cached the hash as unknown.
        state.keys.invalidate(&key.key_hash).await;
    }
    tracing::info!(count = imported.len(), "api keys imported");
    Ok(imported)
}

fn sha256_hex(field: &str, value: &str) -> ApiResult<String> {
    let hex = value.trim().to_ascii_lowercase();
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid_field(field, "must be the SHA-256 of the key as 64 hex characters"));
    }
    Ok(hex)
}

fn display_text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    if value.is_empty() || value.chars().count() > max || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid_field(field, format!("must be 1-{max} printable ASCII characters")));
    }
    Ok(value.to_string())
}

/// Errors of item `i` name their field as `keys[i].field`. A `project_id` or
/// `environment` that does not exist stays a 404, as on create.
fn in_item(i: usize, err: ApiError) -> ApiError {
    match err {
        ApiError::BadRequest(message) => ApiError::BadRequest(format!("keys[{i}].{message}")),
        other => other,
    }
}
