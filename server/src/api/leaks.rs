//! `POST /v1/leaks/report`: a secret scanner (GitHub's partner program
//! format) reports keys it found in public. The body's ECDSA signature is
//! checked before anything else; each live key it names is revoked (or only
//! flagged, per its project's `leak_policy`), audited and announced with
//! `api_key.leaked`. The answer is the same whether or not anything matched.

use crate::{
    app::{self, AppState, leaks::LeakedToken},
    error::{ApiResult, ErrorBody},
    extract::{RawBody, parse_json},
};
use axum::{Json, extract::State, http::HeaderMap};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use crate::app::leaks::MAX_MATCHES;

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
#[utoipa::path(post, path = "/v1/leaks/report", tag = "leaks", operation_id = "report_leaked_keys", security(),
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
        (status = 429, description = "Too many failed authentications from this client address within a minute (every `/v1/` route shares the throttle)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request may succeed"))),
    ))]
pub async fn report_leaked_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<LeakReportReceipt>> {
    let signature = header(&headers, "github-public-key-signature");
    let identifier = header(&headers, "github-public-key-identifier");
    let tokens = app::leaks::report(&state, signature, identifier, &body, |body| {
        let matches: Vec<LeakMatch> = parse_json(body)?;
        Ok(matches.into_iter().map(|m| LeakedToken {
            token: m.token,
            kind: m.token_type,
            url: m.url,
            source: m.source,
        }))
    })
    .await?;
    Ok(Json(LeakReportReceipt { received: tokens as u32 }))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report_leaked_keys))
}
