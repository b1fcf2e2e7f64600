//! Create, verify, list and revoke a key.
//!
//! Start a server (`cargo run -p keyward-server`), then with the admin key it
//! printed:
//!
//! ```sh
//! KEYWARD_API_KEY=kw_live_… cargo run -p keyward --example quickstart
//! ```

use futures::{StreamExt, TryStreamExt};
use keyward::{Client, ListApiKeys, types::CreateApiKeyRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // KEYWARD_API_KEY, and KEYWARD_BASE_URL (default http://127.0.0.1:8080).
    let client = Client::from_env()?;

    let request: CreateApiKeyRequest =
        CreateApiKeyRequest::builder().name("quickstart").scopes(vec!["reports:read".to_string()]).try_into()?;
    let created = client.api_keys().create(request).await?;
    // `created.key` prints masked; `expose()` is the one place the plaintext shows.
    println!("created {} ({}) — plaintext: {}", created.id, created.key, created.key.expose());

    let verdict = client.keys().verify_key(created.key.expose()).await?;
    println!("verify: valid={} code={} scopes={:?}", verdict.valid, verdict.code, verdict.scopes);

    let newest: Vec<_> =
        client.api_keys().list(ListApiKeys { limit: Some(20), ..Default::default() }).take(5).try_collect().await?;
    for key in &newest {
        println!("  {}… {:<20} active={}", key.key_prefix, key.name, key.is_active);
    }

    client.api_keys().revoke(created.id).await?;
    let after = client.keys().verify_key(created.key.expose()).await?;
    println!("after revoke: {}", after.code);

    // Errors are typed: a 404 reads as one.
    match client.api_keys().get(keyward::Uuid::nil()).await {
        Err(error) if error.is_not_found() => println!("as expected: {error}"),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
