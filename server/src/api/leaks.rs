//! `POST /v1/leaks/report`: a secret scanner (GitHub's partner program
//! format) reports keys it found in public. The body's ECDSA signature is
//! checked before anything else; each live key it names is revoked (or only
//! flagged, per its project's `leak_policy`), audited and announced with
//! `api_key.leaked`. The answer is the same whether or not anything matched.

use super::{
    api_keys::{ChangedBy, record_change, revoke_record},
    projects::LeakPolicy,
};
use crate::{
    app::AppState,
    error::{ApiError, ApiResult, ErrorBody},
    extract::{RawBody, parse_json},
    keyfmt,
    store::{self, now_ms},
    webhooks::WebhookEventType,
};
use axum::{Json, extract::State, http::HeaderMap};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Matches one report may carry.
pub const MAX_MATCHES: usize = 1000;

/// One match, as GitHub secret scanning sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LeakMatch {
    /// The leaked token, in full.
    pub token: String,
    /// The scanner's name for the token's pattern.
    #[serde(rename = "type")]
    pub token_type: Option<String>,
    /// Where it was found.
    pub url: Option<String>,
    /// e.g. `content`, `commit`, `issue_comment`.
    pub source: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeakReportReceipt {
    /// How many matches the report carried (not how many were keys).
    pub received: u32,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Report leaked keys
///
/// GitHub secret-scanning partner format: a JSON array of `{token, type, url,
/// source}`, signed with ECDSA P-256/SHA-256 over the raw body
/// (`Github-Public-Key-Signature`, base64 DER) by a key configured in
/// `KEYWARD_LEAK_REPORT_PUBLIC_KEYS`. No API key is needed: the signature is
/// the credential.
#[utoipa::path(post, path = "/v1/leaks/report", tag = "leaks", operation_id = "report_leaked_keys",
    request_body(content = Vec<LeakMatch>, description = "The matches"),
    params(
        ("Github-Public-Key-Identifier" = Option<String>, Header, description = "Which public key signed the body"),
        ("Github-Public-Key-Signature" = String, Header, description = "Base64 ASN.1 DER ECDSA P-256/SHA-256 signature of the raw body"),
    ),
    responses(
        (status = 200, description = "Accepted (says nothing about whether any token matched)", body = LeakReportReceipt),
        (status = 400, description = "The body is not an array of matches", body = ErrorBody),
        (status = 403, description = "Missing or invalid signature, or leak reports are not configured", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
    ))]
pub async fn report_leaked_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<LeakReportReceipt>> {
    if state.config.leak_report_keys.is_empty() {
        return Err(ApiError::forbidden(
            "leak reports are not accepted: no signing keys are configured (KEYWARD_LEAK_REPORT_PUBLIC_KEYS)",
        ));
    }
    let signature = header(&headers, "github-public-key-signature")
        .ok_or_else(|| ApiError::forbidden("missing the Github-Public-Key-Signature header"))?;
    let identifier = header(&headers, "github-public-key-identifier");
    if !crate::leaks::signature_valid(&state.config.leak_report_keys, identifier, signature, &body) {
        tracing::warn!("leak report refused: bad signature");
        return Err(ApiError::forbidden("the report's signature does not verify"));
    }
    let matches: Vec<LeakMatch> = parse_json(&body)?;
    if matches.len() > MAX_MATCHES {
        return Err(ApiError::bad_request(format!("a report may carry at most {MAX_MATCHES} matches")));
    }
    for m in &matches {
        handle_match(&state, m).await?;
    }
    Ok(Json(LeakReportReceipt { received: matches.len() as u32 }))
}

async fn handle_match(state: &AppState, m: &LeakMatch) -> ApiResult<()> {
    let hash = keyfmt::hash_key(m.token.trim());
    let mut conn = state.store.pool().acquire().await?;
    let Some(key) = store::find_key_by_hash(&mut conn, &hash).await? else { return Ok(()) };
    if key.revoked_at.is_some_and(|at| at <= now_ms()) {
        return Ok(());
    }
    let project = match &key.project_id {
        Some(pid) => store::get_project(&mut conn, &key.organization_id, pid).await?,
        None => None,
    };
    drop(conn);
    let policy = LeakPolicy::of(project.as_ref());
    let details = json!({
        "action": match policy { LeakPolicy::Revoke => "revoked", LeakPolicy::Flag => "flagged" },
        "type": m.token_type, "url": m.url, "source": m.source,
    });
    let by = ChangedBy::System { organization_id: &key.organization_id, actor_id: "leak_report" };
    tracing::warn!(key_id = %key.id, key_prefix = %key.key_prefix, action = policy.as_str(), "leaked key reported");
    match policy {
        LeakPolicy::Revoke => {
            revoke_record(state, by, &key, WebhookEventType::ApiKeyLeaked, details.clone(), details).await?;
        }
        LeakPolicy::Flag => {
            let now = now_ms();
            let mut tx = state.store.begin().await?;
            store::mark_leaked(&mut tx, &key.id, now).await?;
            record_change(&mut tx, by, WebhookEventType::ApiKeyLeaked, &key, details.clone(), details).await?;
            tx.commit().await?;
            state.keys.invalidate(&key.key_hash).await;
        }
    }
    Ok(())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report_leaked_keys))
}
