//! Guard your own axum service with keyward.
//!
//! ```sh
//! # a key with the `keys:verify` scope (the bootstrap admin key has `*`), and where keyward is
//! KEYWARD_API_KEY=kw_live_… KEYWARD_BASE_URL=http://127.0.0.1:8080 \
//!   cargo run -p keyward --features axum --example axum_guard
//! # then, with a key that has the `reports:read` scope:
//! curl -H "Authorization: Bearer kw_live_…" http://127.0.0.1:3000/reports
//! ```
//!
//! `/health` is open; `/reports` needs a valid key with `reports:read`. A
//! missing or revoked key gets 401, a key without the scope 403, a key over
//! its rate limit 429, each with a JSON `{error, code, request_id}` body
//! (docs/sdk-contract.md, "Guards: the rejection contract"). Without
//! `KEYWARD_API_KEY` or `KEYWARD_BASE_URL` it does not start.

use std::net::SocketAddr;

use axum::{Json, Router, routing::get};
use keyward::middleware::{RequireKey, VerifiedKey};
use serde_json::{Value, json};

async fn reports(key: VerifiedKey) -> Json<Value> {
    // The verify result: who is calling and what they may do.
    Json(json!({
        "key_id": key.key_id,
        "organization_id": key.organization_id,
        "environment": key.environment,
        "scopes": key.scopes,
        "reports": [],
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Fails here, naming the variable, when KEYWARD_API_KEY or KEYWARD_BASE_URL is missing.
    let guard = RequireKey::from_env()?;
    let listen: SocketAddr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into()).parse()?;

    let guarded = Router::new().route("/reports", get(reports)).layer(guard.scopes(["reports:read"]));
    let app = Router::new().route("/health", get(|| async { "ok" })).merge(guarded);

    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{listen}");
    // With connect info, the guard passes the caller's IP to verify, so keys
    // restricted by `allowed_ips` work.
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
