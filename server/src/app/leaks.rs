//! Leaked-key reports from a secret scanner (GitHub's partner program
//! format). The body's ECDSA signature is checked before the body is even
//! parsed (the signature is the credential); each live key a report names is
//! revoked, or only flagged when its project's `leak_policy` says so, audited
//! and announced with `api_key.leaked`, each in its own unit of work. The
//! answer is the same whether or not anything matched.

use crate::{
    app::{
        AppState,
        keys::{ChangedBy, record_change, revoke_record},
    },
    domain::{leaks::signature_valid, projects::LeakPolicy},
    error::{ApiError, ApiResult},
    keyfmt, store,
    webhooks::WebhookEventType,
};
use serde_json::json;

/// Matches one report may carry.
pub const MAX_MATCHES: usize = 1000;

/// One token a scanner found in public, and where.
pub struct LeakedToken {
    pub token: String,
    /// The scanner's name for the token's pattern.
    pub kind: Option<String>,
    pub url: Option<String>,
    pub source: Option<String>,
}

/// Check the report's signature, then parse `body` with `parse` (the HTTP
/// layer's JSON rules) and act on every match. Returns how many matches the
/// report carried (not how many were keys).
pub async fn report<I>(
    state: &AppState,
    signature: Option<&str>,
    identifier: Option<&str>,
    body: &[u8],
    parse: impl FnOnce(&[u8]) -> ApiResult<I>,
) -> ApiResult<usize>
where
    I: ExactSizeIterator<Item = LeakedToken>,
{
    if state.config.leak_report_keys.is_empty() {
        return Err(ApiError::forbidden(
            "leak reports are not accepted: no signing keys are configured (KEYWARD_LEAK_REPORT_PUBLIC_KEYS)",
        ));
    }
    let signature = signature.ok_or_else(|| ApiError::forbidden("missing the Github-Public-Key-Signature header"))?;
    if !signature_valid(&state.config.leak_report_keys, identifier, signature, body) {
        tracing::warn!("leak report refused: bad signature");
        return Err(ApiError::forbidden("the report's signature does not verify"));
    }
    let tokens = parse(body)?;
    let received = tokens.len();
    if received > MAX_MATCHES {
        return Err(ApiError::bad_request(format!("a report may carry at most {MAX_MATCHES} matches")));
    }
    for token in tokens {
        handle(state, &token).await?;
    }
    Ok(received)
}

async fn handle(state: &AppState, leaked: &LeakedToken) -> ApiResult<()> {
    let hash = keyfmt::hash_key(leaked.token.trim());
    let mut conn = state.store.pool().acquire().await?;
    let Some(key) = store::find_key_by_hash(&mut conn, &hash).await? else { return Ok(()) };
    let now = state.config.clock.now_ms();
    if key.revoked_at.is_some_and(|at| at <= now) {
        return Ok(());
    }
    let project = match &key.project_id {
        Some(pid) => store::get_project(&mut conn, &key.organization_id, pid).await?,
        None => None,
    };
    drop(conn);
    let revoke = LeakPolicy::parse(project.as_ref().and_then(|p| p.leak_policy.as_deref())) == LeakPolicy::Revoke;
    let details = json!({
        "action": if revoke { "revoked" } else { "flagged" },
        "type": leaked.kind, "url": leaked.url, "source": leaked.source,
    });
    let by = ChangedBy::System { organization_id: key.organization_id, actor_id: "leak_report" };
    tracing::warn!(key_id = %key.id, key_prefix = %key.key_prefix, action = if revoke { "revoke" } else { "flag" }, "leaked key reported");
    if revoke {
        revoke_record(state, by, &key, WebhookEventType::ApiKeyLeaked, details.clone(), details).await?;
    } else {
        let mut tx = state.store.begin().await?;
        store::mark_leaked(&mut tx, &key.id, now).await?;
        record_change(&mut tx, by, WebhookEventType::ApiKeyLeaked, &key, details.clone(), details).await?;
        tx.commit().await?;
        state.keys.invalidate(&key.key_hash).await;
    }
    Ok(())
}
