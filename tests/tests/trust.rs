//! What a hostile or careless caller cannot make keyward do, over a real
//! socket on every backend: use a pinned key from elsewhere, learn of another
//! tenant's key, get a replay without authenticating, hold a socket with half
//! a header, push past the request limits, or bury the audit trail.

use keyward_tests::{Backend, Response, TestServer, backend_tests, json};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn plaintext(created: &Value) -> String {
    created["key"].as_str().expect("a plaintext").to_string()
}

fn addr_of(s: &TestServer) -> String {
    s.base_url.trim_start_matches("http://").to_string()
}

// ---------------------------------------------------------------- keys bound to addresses

async fn allowed_ips_bind_every_route(backend: Backend) {
    let s = TestServer::start(backend).await;
    let pinned =
        plaintext(&s.create_key(json!({"name": "pinned", "scopes": ["*"], "allowed_ips": ["192.0.2.1/32"]})).await);
    let here =
        plaintext(&s.create_key(json!({"name": "local", "scopes": ["*"], "allowed_ips": ["127.0.0.0/8"]})).await);
    for (method, path, body) in [
        (Method::GET, "/v1/api-keys", None),
        (Method::POST, "/v1/api-keys", Some(json!({"name": "x"}))),
        (Method::POST, "/v1/keys/verify", Some(json!({"key": here.clone()}))),
        (Method::GET, "/v1/organizations", None),
    ] {
        let r = s.call(method.clone(), path, &pinned, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.body);
        assert_eq!(r.body["code"], "ip_not_allowed");
        assert!(r.error_message().contains("127.0.0.1"), "names the address: {}", r.body);
        // Without trusted proxies, a forwarded address is not believed.
        let forged =
            s.call_with_headers(method.clone(), path, &pinned, body.clone(), &[("x-forwarded-for", "192.0.2.1")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "X-Forwarded-For from an untrusted peer: {}", forged.body);
        let local = s.call(method, path, &here, body).await;
        assert!(local.status.is_success(), "{path} from an allowed address: {}", local.body);
    }
    s.stop().await;
}

async fn trusted_proxies_name_the_client(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let pinned = plaintext(
        &s.create_key(json!({"name": "pinned", "scopes": ["keys:read"], "allowed_ips": ["192.0.2.1/32"]})).await,
    );
    let via = |hops: &'static str| {
        let (s, pinned) = (&s, pinned.clone());
        async move { s.call_with_headers(Method::GET, "/v1/api-keys", &pinned, None, &[("x-forwarded-for", hops)]).await }
    };
    assert_eq!(via("192.0.2.1").await.status, StatusCode::OK, "the proxy's word is taken");
    assert_eq!(via("192.0.2.1, 127.0.0.1").await.status, StatusCode::OK, "trusted hops are skipped");
    // The client may prepend anything; only the hop the proxy appended counts.
    let r = via("192.0.2.1, 198.51.100.7").await;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("ip_not_allowed")), "{}", r.body);
    assert_eq!(s.get("/v1/api-keys", &pinned).await.status, StatusCode::FORBIDDEN, "no header: the proxy itself");
    s.stop().await;
}

// ---------------------------------------------------------------- other tenants

async fn other_tenants_keys_verify_as_unknown(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (_, other_admin) = s.new_tenant("other").await;
    // A key in our format: NOT_FOUND, exactly as an unknown one.
    let theirs = s.post("/v1/api-keys", &other_admin, json!({"name": "theirs"})).await;
    let never_stored = keyward_server::keyfmt::generate("kw", "live").into_plaintext();
    let unknown_native = s.verify(&never_stored).await;
    assert_eq!(unknown_native["code"], "NOT_FOUND");
    let foreign_native = s.verify(&plaintext(&theirs.body)).await;
    assert_eq!(foreign_native, unknown_native, "another tenant's key answers as an unknown one");
    // An imported key of another format: MALFORMED, exactly as an unknown one.
    let legacy = "sk_live_TheirLegacyKey0123456789abc";
    let import = json!({"keys": [{"key_hash": sha256_hex(legacy), "key_prefix": "sk_live_Thei", "name": "legacy"}]});
    assert_eq!(s.post("/v1/api-keys/import", &other_admin, import).await.status, StatusCode::CREATED);
    let foreign_imported = s.verify(legacy).await;
    let unknown_imported = s.verify("sk_live_NobodysKey0123456789abcdefgh").await;
    assert_eq!(foreign_imported, unknown_imported, "another tenant's imported key answers as an unknown one");
    assert_eq!(foreign_imported["code"], "MALFORMED");
    s.stop().await;
}

// ---------------------------------------------------------------- idempotency after authentication

async fn post_idempotent(s: &TestServer, credential: &str, idem: &str, body: Value) -> Response {
    let r = s.raw(Method::POST, "/v1/api-keys").bearer_auth(credential).header("Idempotency-Key", idem).json(&body);
    Response::read(r.send().await.expect("send")).await
}

async fn replays_need_a_live_credential(backend: Backend) {
    let s = TestServer::start(backend).await;
    let writer = s.create_key(json!({"name": "writer", "scopes": ["keys:write"]})).await;
    let body = json!({"name": "made once"});
    let first = post_idempotent(&s, &plaintext(&writer), "replay-after-revoke", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = post_idempotent(&s, &plaintext(&writer), "replay-after-revoke", body.clone()).await;
    assert_eq!(again.header("idempotent-replayed"), Some("true"), "a live key gets the replay");
    s.delete(&format!("/v1/api-keys/{}", writer["id"].as_str().unwrap()), &s.admin_key).await;
    let after = post_idempotent(&s, &plaintext(&writer), "replay-after-revoke", body).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "a revoked key gets no replay: {}", after.body);
    assert!(after.body.get("key").is_none());
    s.stop().await;
}

/// A request abandoned mid-handler (here: cut by the request timeout while a
/// table lock holds its write) leaves no in-flight claim: the retry runs.
/// Postgres only: on SQLite the lock that stalls the handler also stalls the
/// claim itself, so nothing would be claimed to begin with.
async fn abandoned_requests_release_their_claim(backend: Backend) {
    if backend != Backend::Postgres {
        return;
    }
    let s = TestServer::start_with(backend, |c| c.request_timeout = Duration::from_millis(300)).await;
    let mut lock = s.state.store.pool().begin().await.expect("begin");
    sqlx::query("LOCK TABLE api_keys IN EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock api_keys");
    let body = json!({"name": "abandoned"});
    let cut = post_idempotent(&s, &s.admin_key, "abandoned-1", body.clone()).await;
    assert_eq!(cut.status, StatusCode::SERVICE_UNAVAILABLE, "cut by the request timeout: {}", cut.body);
    lock.rollback().await.expect("unlock");
    // The claim is released by a task the drop spawned: give it a moment.
    let mut retried = None;
    for _ in 0..50 {
        let r = post_idempotent(&s, &s.admin_key, "abandoned-1", body.clone()).await;
        // 409: still claimed; 503: the unlocked table still catching up.
        if r.status != StatusCode::CONFLICT && r.status != StatusCode::SERVICE_UNAVAILABLE {
            retried = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retried = retried.expect("the in-flight claim was released within 5 s");
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    s.stop().await;
}

// ---------------------------------------------------------------- bounded edges

async fn half_a_header_is_cut_off(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.header_read_timeout = Duration::from_millis(300)).await;
    let mut socket = tokio::net::TcpStream::connect(addr_of(&s)).await.expect("connect");
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: keyward\r\nX-Slow: ").await.expect("write half a header");
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf)).await;
    match read {
        Ok(Ok(n)) => {
            // Closed (0), or closed after a 408 from hyper.
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "unexpected answer: {text}");
        }
        Ok(Err(_)) => {} // reset: closed too
        Err(_) => panic!("a socket with half a header was still open after 10 s (timeout 300 ms)"),
    }
    s.stop().await;
}

/// Sends headers promising a body it never finishes: a request that holds
/// its slot until the server gives up on it.
async fn stalled_request(s: &TestServer) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(addr_of(s)).await.expect("connect");
    let head = format!(
        "POST /v1/keys/verify HTTP/1.1\r\nHost: keyward\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"key\":",
        s.admin_key
    );
    socket.write_all(head.as_bytes()).await.expect("write");
    socket
}

async fn requests_past_the_limits_are_shed(backend: Backend) {
    let s = TestServer::start_with(backend, |c| {
        c.max_concurrent_requests = 1;
        c.request_timeout = Duration::from_millis(1500);
    })
    .await;
    let mut stalled = stalled_request(&s).await;
    // Let the stalled request take the one slot.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shed = s.get("/v1/api-keys", &s.admin_key).await;
    assert_eq!(shed.status, StatusCode::SERVICE_UNAVAILABLE, "{}", shed.body);
    assert_eq!(shed.body["code"], "overloaded");
    assert_eq!(shed.header("retry-after"), Some("1"));
    // The stalled one is answered by the request timeout, freeing the slot.
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "the stalled request timed out: {answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert_eq!(s.get("/v1/api-keys", &s.admin_key).await.status, StatusCode::OK, "the slot is free again");
    s.stop().await;
}

// ---------------------------------------------------------------- failed authentication

async fn failed_authentication_is_throttled_per_address(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.auth_failure_limit = 5).await;
    for i in 0..5 {
        let r = s.get("/v1/api-keys", "kw_live_0000000000000000000000000000000000000000").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let throttled = s.get("/v1/api-keys", "kw_live_0000000000000000000000000000000000000000").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS, "{}", throttled.body);
    assert!(throttled.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)));
    assert!(throttled.error_message().contains("failed authentications"));
    // Every route from this address, a good credential included, until it drains.
    assert_eq!(s.get("/v1/api-keys", &s.admin_key).await.status, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

async fn an_audit_flood_costs_rows_per_minute(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.auth_failure_limit = 0).await;
    let revoked = s.create_key(json!({"name": "revoked", "scopes": ["*"]})).await;
    s.delete(&format!("/v1/api-keys/{}", revoked["id"].as_str().unwrap()), &s.admin_key).await;
    const FLOOD: i64 = 300;
    for _ in 0..FLOOD {
        assert_eq!(s.get("/v1/api-keys", &plaintext(&revoked)).await.status, StatusCode::UNAUTHORIZED);
    }
    let events = s
        .get(&format!("/v1/audit-events?action=auth.failed&actor_id={}", revoked["id"].as_str().unwrap()), &s.admin_key)
        .await;
    let events = events.body.as_array().expect("a list").clone();
    // One row a minute: two when the loop straddles a minute boundary.
    assert!((1..=2).contains(&events.len()), "{} rows for {FLOOD} failures: {events:?}", events.len());
    let counted: i64 = events.iter().map(|e| e["count"].as_i64().expect("count")).sum();
    assert_eq!(counted, FLOOD, "every failure is counted");
    assert_eq!(events[0]["ip"], "127.0.0.1");
    s.stop().await;
}

// ---------------------------------------------------------------- read-modify-write

/// Two PATCHes of different fields and a revoke, released together: both
/// fields land (no lost update) and the key stays revoked (no PATCH writes
/// an old `is_active` back), and the cache agrees.
async fn concurrent_writes_to_a_key_all_land(backend: Backend) {
    let s = TestServer::start(backend).await;
    for round in 0..10 {
        let created = s.create_key(json!({"name": format!("raced {round}")})).await;
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(s.verify(&plaintext(&created)).await["code"], "VALID", "warm the cache");
        let path = format!("/v1/api-keys/{id}");
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(3));
        let (a, b, c) = tokio::join!(
            async {
                barrier.wait().await;
                s.patch(&path, &s.admin_key, json!({"name": "renamed"})).await
            },
            async {
                barrier.wait().await;
                s.patch(&path, &s.admin_key, json!({"device_name": "laptop"})).await
            },
            async {
                barrier.wait().await;
                s.delete(&path, &s.admin_key).await
            },
        );
        assert_eq!(c.status, StatusCode::NO_CONTENT);
        // A PATCH that comes after the revoke is refused (409); one before it lands.
        let key = s.get(&path, &s.admin_key).await.body;
        for (patch, field, value) in [(&a, "name", "renamed"), (&b, "device_name", "laptop")] {
            match patch.status {
                StatusCode::OK => {
                    assert_eq!(key[field], value, "round {round}: a successful PATCH of {field} was lost")
                }
                StatusCode::CONFLICT => {}
                other => panic!("round {round}: PATCH of {field} answered {other} {}", patch.body),
            }
        }
        assert!(
            key["revoked_at"].is_string() && key["is_active"] == false,
            "round {round}: the revoke was undone: {key}"
        );
        assert_eq!(
            s.verify(&plaintext(&created)).await["code"],
            "REVOKED",
            "round {round}: the cache kept a revoked key"
        );
    }
    s.stop().await;
}

/// A PATCH racing a delete never brings the project back.
async fn a_patch_never_undeletes_a_project(backend: Backend) {
    let s = TestServer::start(backend).await;
    for round in 0..10 {
        let project = s.post("/v1/projects", &s.admin_key, json!({"name": format!("p{round}")})).await.body;
        let path = format!("/v1/projects/{}", project["id"].as_str().unwrap());
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let (patched, deleted) = tokio::join!(
            async {
                barrier.wait().await;
                s.patch(&path, &s.admin_key, json!({"name": "renamed"})).await
            },
            async {
                barrier.wait().await;
                s.delete(&path, &s.admin_key).await
            },
        );
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert!(
            matches!(patched.status, StatusCode::OK | StatusCode::NOT_FOUND),
            "{} {}",
            patched.status,
            patched.body
        );
        assert_eq!(
            s.get(&path, &s.admin_key).await.status,
            StatusCode::NOT_FOUND,
            "round {round}: the project came back"
        );
    }
    s.stop().await;
}

/// A PATCH racing a secret rotation never writes the old secret back: the
/// secret the rotation returned is the one that signs deliveries.
async fn a_patch_never_undoes_a_secret_rotation(backend: Backend) {
    let s = TestServer::start(backend).await;
    let created = s.post("/v1/webhook-endpoints", &s.admin_key, json!({"url": "https://example.com/hook"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    for round in 0..10 {
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let (patched, rotated) = tokio::join!(
            async {
                barrier.wait().await;
                s.patch(
                    &format!("/v1/webhook-endpoints/{id}"),
                    &s.admin_key,
                    json!({"description": format!("round {round}")}),
                )
                .await
            },
            async {
                barrier.wait().await;
                s.post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"), &s.admin_key, json!({})).await
            },
        );
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
        let returned = rotated.body["secret"].as_str().expect("the new secret").to_string();
        let mut conn = s.state.store.pool().acquire().await.unwrap();
        let stored = keyward_server::store::webhook_endpoint_secret(&mut conn, &id.parse().expect("an endpoint id"))
            .await
            .unwrap()
            .expect("a secret");
        let opened = s.state.secrets.open(&keyward_server::secrets::endpoint_aad(&id), &stored).expect("opens");
        assert_eq!(opened.expose(), returned, "round {round}: the stored secret is not the one the rotation returned");
        let description = s.get(&format!("/v1/webhook-endpoints/{id}"), &s.admin_key).await.body["description"].clone();
        assert_eq!(description, format!("round {round}"), "round {round}: the PATCH was lost");
    }
    s.stop().await;
}

/// A claim left by a process that died mid-request (no drop ran) is taken
/// over once it is older than twice the request timeout.
async fn a_dead_processs_claim_expires(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.request_timeout = Duration::from_millis(200)).await;
    let body = json!({"name": "after a crash"});
    let first = post_idempotent(&s, &s.admin_key, "crashed-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    // As a crash would leave it: the record back in flight, its response gone.
    s.sql("UPDATE idempotency_records SET status = 0, response_body = NULL").await;
    let busy = post_idempotent(&s, &s.admin_key, "crashed-1", body.clone()).await;
    assert_eq!((busy.status, busy.body["code"].as_str()), (StatusCode::CONFLICT, Some("idempotency_in_progress")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken_over = post_idempotent(&s, &s.admin_key, "crashed-1", body.clone()).await;
    assert_eq!(taken_over.body["code"], "idempotency_in_progress", "the stale claim is dropped on this call");
    let retried = post_idempotent(&s, &s.admin_key, "crashed-1", body).await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.body);
    s.stop().await;
}

/// Deleting a project or an organization revokes its keys through the same
/// unit of work as the API: one audit event and one `api_key.revoked` outbox
/// event per key that still verified, none for one already revoked.
async fn deletions_announce_every_key(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.background_jobs = false).await;
    let (org, admin) = s.new_tenant("doomed").await;
    let hook = s.post("/v1/webhook-endpoints", &admin, json!({"url": "http://127.0.0.1:9/hook"})).await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.body);
    let project = s.post("/v1/projects", &admin, json!({"name": "p"})).await.body;
    let project_id = project["id"].as_str().unwrap().to_string();
    for name in ["in project a", "in project b"] {
        s.post("/v1/api-keys", &admin, json!({"name": name, "project_id": project_id})).await;
    }
    let gone = s.post("/v1/api-keys", &admin, json!({"name": "already revoked", "project_id": project_id})).await.body;
    s.delete(&format!("/v1/api-keys/{}", gone["id"].as_str().unwrap()), &admin).await;
    let count = |action: &'static str, org: String| {
        let s = &s;
        async move {
            let sql =
                format!("SELECT COUNT(*) FROM audit_events WHERE organization_id = '{org}' AND action = '{action}'");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(s.state.store.pool()).await.unwrap();
            n
        }
    };
    let events = |org: String| {
        let s = &s;
        async move {
            let sql = format!(
                "SELECT COUNT(*) FROM webhook_events WHERE organization_id = '{org}' AND event_type = 'api_key.revoked'"
            );
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(s.state.store.pool()).await.unwrap();
            n
        }
    };
    assert_eq!(s.delete(&format!("/v1/projects/{project_id}"), &admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(count("api_key.revoked", org.clone()).await, 3, "two by the deletion, one before it");
    assert_eq!(events(org.clone()).await, 3);
    // The organization: its org-wide keys, including the admin key itself.
    s.post("/v1/api-keys", &admin, json!({"name": "org-wide"})).await;
    assert_eq!(s.delete(&format!("/v1/organizations/{org}"), &admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(count("api_key.revoked", org.clone()).await, 5, "the org-wide key and the admin key too");
    assert_eq!(events(org.clone()).await, 5);
    s.stop().await;
}

backend_tests!(
    allowed_ips_bind_every_route,
    trusted_proxies_name_the_client,
    other_tenants_keys_verify_as_unknown,
    replays_need_a_live_credential,
    abandoned_requests_release_their_claim,
    half_a_header_is_cut_off,
    requests_past_the_limits_are_shed,
    failed_authentication_is_throttled_per_address,
    an_audit_flood_costs_rows_per_minute,
    concurrent_writes_to_a_key_all_land,
    a_patch_never_undeletes_a_project,
    a_patch_never_undoes_a_secret_rotation,
    a_dead_processs_claim_expires,
    deletions_announce_every_key,
);
