//! `Idempotency-Key` on mutating POSTs (`docs/architecture.md#http-conventions`): the same key with the same
//! body within 24 h replays the first response; with a different body → 409.
//!
//! Only hashes identify a record: the scope is SHA-256 over the caller's
//! credential hash, the route and the idempotency key. The stored response can
//! hold a plaintext API key, so it is encrypted (ChaCha20-Poly1305) under a key
//! derived from the idempotency key itself, which is never stored: the database
//! alone never yields a plaintext.

use crate::{
    MAX_BODY_BYTES,
    app::AppState,
    auth::{Caller, presented_token},
    error::{ApiError, ApiResult},
    keyfmt::hash_key,
    store::{self, now_ms},
};
use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts, Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use chacha20poly1305::{
    ChaCha20Poly1305, Key, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng},
};
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Records older than this are forgotten (and purged by [`crate::jobs::housekeeping`]).
const RETENTION_MS: i64 = crate::jobs::housekeeping::IDEMPOTENCY_RETENTION_MS;
/// A row with this status is a request still being executed.
const IN_FLIGHT: i64 = store::IDEMPOTENCY_IN_FLIGHT;
/// Response headers worth replaying besides the body.
const REPLAYED_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

/// Which requests take part: POSTs that change state. Verify is excluded: it
/// is not a creation and the SDKs never send a key on it.
/// The leak report is signed, not authenticated, and is idempotent by itself.
fn applies_to(method: &Method, path: &str) -> bool {
    method == Method::POST && path.starts_with("/v1/") && path != "/v1/keys/verify" && path != "/v1/leaks/report"
}

/// Authenticates the request before anything is claimed or replayed: a
/// revoked key, an expired session or a removed member is refused (401/404)
/// exactly as without the header, never answered from the store. The caller
/// is left in the request's extensions, so the handler does not
/// authenticate (and rate-limit) a second time.
async fn authenticate(parts: &mut Parts, state: &AppState) -> ApiResult<()> {
    // Creating an organization is the one POST a user without one may make.
    if parts.uri.path() == "/v1/organizations" {
        if let crate::auth::tenancy::Principal::Key(caller) =
            crate::auth::tenancy::Principal::from_request_parts(parts, state).await?
        {
            parts.extensions.insert(caller);
        }
        return Ok(());
    }
    let caller = Caller::from_request_parts(parts, state).await?;
    parts.extensions.insert(caller);
    Ok(())
}

/// An in-flight claim that is released unless the request finishes: a
/// handler that panics or a client that hangs up must not leave 24 h of
/// `409 idempotency_in_progress` behind.
struct InFlightClaim {
    pool: sqlx::AnyPool,
    scope_hash: Option<String>,
}

impl InFlightClaim {
    fn settled(mut self) {
        self.scope_hash = None;
    }
}

impl Drop for InFlightClaim {
    fn drop(&mut self) {
        let (Some(scope_hash), Ok(runtime)) = (self.scope_hash.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let pool = self.pool.clone();
        runtime.spawn(async move {
            let released = store::forget_idempotency(&pool, &scope_hash, None, true).await;
            if let Err(err) = released {
                tracing::warn!(error = %err, "releasing an abandoned idempotency claim failed");
            }
        });
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn cipher_for(idempotency_key: &str, scope_hash: &str) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(b"keyward idempotency response key v1\0");
    h.update(idempotency_key.as_bytes());
    h.update(b"\0");
    h.update(scope_hash.as_bytes());
    let key: Key = h.finalize();
    ChaCha20Poly1305::new(&key)
}

fn seal(cipher: &ChaCha20Poly1305, plaintext: &[u8]) -> ApiResult<String> {
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher.encrypt(&nonce, plaintext).map_err(|_| anyhow::anyhow!("encrypting an idempotent response"))?;
    Ok(format!("{}.{}", B64.encode(nonce), B64.encode(sealed)))
}

fn open(cipher: &ChaCha20Poly1305, stored: &str) -> Option<Vec<u8>> {
    let (nonce, sealed) = stored.split_once('.')?;
    let nonce: [u8; 12] = B64.decode(nonce).ok()?.try_into().ok()?;
    cipher.decrypt(&Nonce::from(nonce), B64.decode(sealed).ok()?.as_slice()).ok()
}

fn validate_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(raw) = headers.get(HEADER) else { return Ok(None) };
    let value = raw.to_str().ok().map(str::trim).unwrap_or_default();
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_field("Idempotency-Key", "must be 1-255 printable ASCII characters"));
    }
    Ok(Some(value.to_string()))
}

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !applies_to(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    match handle(state, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(state: AppState, request: Request, next: Next) -> ApiResult<Response> {
    if !request.headers().contains_key(HEADER) {
        return Ok(next.run(request).await);
    }
    // Authentication first: a request without valid credentials answers 401
    // whatever else is wrong with it (a malformed key, a body over the limit).
    let (mut parts, body) = request.into_parts();
    authenticate(&mut parts, &state).await?;
    let Some(idempotency_key) = validate_key(&parts.headers)? else {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let credential = presented_token(&parts.headers).map(hash_key).unwrap_or_default();
    let scope_hash = sha256_hex(&[credential.as_bytes(), parts.uri.path().as_bytes(), idempotency_key.as_bytes()]);
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| ApiError::PayloadTooLarge)?;
    let request_hash = sha256_hex(&[&body]);
    let now = now_ms();
    let pool = state.store.pool();

    // Claim the scope, or find who already holds it.
    if !store::claim_idempotency(pool, &scope_hash, &request_hash, now).await? {
        let Some(record) = store::get_idempotency(pool, &scope_hash).await? else {
            return Err(ApiError::IdempotencyInProgress);
        };
        if record.created_at < now - RETENTION_MS {
            // Expired: forget it and let the client retry as a new request.
            store::forget_idempotency(pool, &scope_hash, Some(record.created_at), false).await?;
            return Err(ApiError::conflict("the previous use of this Idempotency-Key expired; retry the request"));
        }
        if record.request_hash != request_hash {
            return Err(ApiError::conflict("Idempotency-Key was already used with a different request body"));
        }
        if record.status == IN_FLIGHT {
            // No request runs longer than the request timeout: a claim older
            // than twice that was left by a process that died mid-request
            // (a panic or a hang-up release theirs at once). Drop it; the
            // client's retry, as `Retry-After` asks, claims afresh.
            let stale_before =
                now - 2 * i64::try_from(state.config.request_timeout.as_millis()).unwrap_or(i64::MAX / 4);
            if record.created_at < stale_before {
                store::forget_idempotency(pool, &scope_hash, Some(record.created_at), true).await?;
            }
            return Err(ApiError::IdempotencyInProgress);
        }
        let cipher = cipher_for(&idempotency_key, &scope_hash);
        let body = record
            .response_body
            .and_then(|sealed| open(&cipher, &sealed))
            .ok_or_else(|| anyhow::anyhow!("stored idempotent response could not be opened"))?;
        let headers: Vec<(String, String)> =
            record.response_headers.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(record.status as u16).unwrap_or(StatusCode::OK);
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().insert(n, v);
            }
        }
        response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        return Ok(response);
    }

    let claim = InFlightClaim { pool: pool.clone(), scope_hash: Some(scope_hash.clone()) };
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    if !response.status().is_success() {
        // Only successes are remembered; a failed attempt may be retried as new.
        store::forget_idempotency(pool, &scope_hash, None, false).await?;
        claim.settled();
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(|e| anyhow::anyhow!("buffering response: {e}"))?;
    let headers: Vec<(String, String)> = REPLAYED_HEADERS
        .iter()
        .filter_map(|name| Some((name.as_str().to_string(), parts.headers.get(name)?.to_str().ok()?.to_string())))
        .collect();
    let sealed = seal(&cipher_for(&idempotency_key, &scope_hash), &body)?;
    let headers = serde_json::to_string(&headers).unwrap_or_else(|_| "[]".into());
    store::settle_idempotency(pool, &scope_hash, i64::from(parts.status.as_u16()), &sealed, &headers).await?;
    claim.settled();
    Ok(Response::from_parts(parts, Body::from(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_responses_open_only_with_the_idempotency_key() {
        let scope = sha256_hex(&[b"cred", b"/v1/api-keys", b"idem-1"]);
        let sealed = seal(&cipher_for("idem-1", &scope), b"{\"key\":\"kw_live_secret\"}").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(open(&cipher_for("idem-1", &scope), &sealed).unwrap(), b"{\"key\":\"kw_live_secret\"}");
        assert!(open(&cipher_for("idem-2", &scope), &sealed).is_none());
    }
}
