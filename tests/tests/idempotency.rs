//! `Idempotency-Key` on mutating POSTs: replay, conflict, scoping, and that the
//! stored replay never exposes a plaintext key.

use keyward_tests::{Backend, Response, TestServer, backend_tests, json};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn post_with_key(s: &TestServer, path: &str, credential: &str, idem: &str, body: Value) -> Response {
    let r = s
        .raw(Method::POST, path)
        .bearer_auth(credential)
        .header("Idempotency-Key", idem)
        .json(&body)
        .send()
        .await
        .unwrap();
    Response::read(r).await
}

async fn count_keys(s: &TestServer) -> usize {
    s.get("/v1/api-keys?limit=200", &s.admin_key).await.body.as_array().unwrap().len()
}

async fn same_key_same_body_replays_the_first_response(backend: Backend) {
    let s = TestServer::start(backend).await;
    let before = count_keys(&s).await;
    let body = json!({"name": "idempotent", "scopes": ["keys:verify"]});
    let first = post_with_key(&s, "/v1/api-keys", &s.admin_key, "create-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = post_with_key(&s, "/v1/api-keys", &s.admin_key, "create-1", body.clone()).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.body, first.body, "the replay is the first response, plaintext included");
    assert_ne!(second.header("x-request-id"), first.header("x-request-id"));
    assert_eq!(count_keys(&s).await, before + 1, "exactly one key was created");

    // The stored replay is encrypted: the database alone never yields the plaintext.
    let plaintext = first.body["key"].as_str().unwrap();
    let mut conn = s.state.store.pool().acquire().await.unwrap();
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT scope_hash, response_body FROM idempotency_records")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains("create-1") && !rows[0].1.as_deref().unwrap().contains(plaintext));
    assert!(!rows[0].1.as_deref().unwrap().contains("idempotent"), "the whole body is sealed");
    drop(conn);

    let other = post_with_key(&s, "/v1/api-keys", &s.admin_key, "create-1", json!({"name": "different"})).await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert!(other.error_message().contains("different request body"));
    s.stop().await;
}

async fn keys_are_scoped_to_credential_and_route(backend: Backend) {
    let s = TestServer::start(backend).await;
    let writer = s.create_key(json!({"name": "writer", "scopes": ["keys:*"]})).await;
    let writer = writer["key"].as_str().unwrap();
    let body = json!({"name": "same"});
    let a = post_with_key(&s, "/v1/api-keys", &s.admin_key, "shared", body.clone()).await;
    let b = post_with_key(&s, "/v1/api-keys", writer, "shared", body.clone()).await;
    assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_ne!(a.body["id"], b.body["id"], "another credential's key is another request");
    // Rotation replays too: same new key, no second rotation.
    let path = format!("/v1/api-keys/{}/rotate", a.body["id"].as_str().unwrap());
    let r1 = post_with_key(&s, &path, &s.admin_key, "rotate-1", json!({"grace_period_seconds": 60})).await;
    let r2 = post_with_key(&s, &path, &s.admin_key, "rotate-1", json!({"grace_period_seconds": 60})).await;
    assert_eq!((r1.status, r2.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(r1.body, r2.body);
    let again = post_with_key(&s, &path, &s.admin_key, "rotate-2", json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a fresh key really rotates again, and the key is replaced");
    s.stop().await;
}

async fn failures_are_not_remembered_and_bad_keys_are_rejected(backend: Backend) {
    let s = TestServer::start(backend).await;
    let bad = post_with_key(&s, "/v1/api-keys", &s.admin_key, "retry-me", json!({"name": ""})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let good = post_with_key(&s, "/v1/api-keys", &s.admin_key, "retry-me", json!({"name": "fixed"})).await;
    assert_eq!(good.status, StatusCode::CREATED, "a failed attempt does not pin the key: {}", good.body);
    let r = post_with_key(&s, "/v1/api-keys", &s.admin_key, &"x".repeat(300), json!({"name": "n"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error_message().contains("Idempotency-Key"));
    // Verify ignores the header: it is not a creation.
    let v1 = post_with_key(&s, "/v1/keys/verify", &s.admin_key, "v", json!({"key": good.body["key"]})).await;
    let v2 = post_with_key(&s, "/v1/keys/verify", &s.admin_key, "v", json!({"key": "other"})).await;
    assert_eq!((v1.body["code"].clone(), v2.body["code"].clone()), (json!("VALID"), json!("MALFORMED")));
    s.stop().await;
}

backend_tests!(
    same_key_same_body_replays_the_first_response,
    keys_are_scoped_to_credential_and_route,
    failures_are_not_remembered_and_bad_keys_are_rejected,
);
