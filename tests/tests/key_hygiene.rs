//! Key hygiene against a real server and a real webhook receiver on loopback:
//! signed webhooks (checked with an HMAC implementation independent of the
//! server's), retries and dead-lettering, the SSRF guard, scheduled rotation,
//! expiry and rotation-due warnings, usage-exceeded events, leak reports
//! signed with ECDSA P-256, and key import.

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use hmac::{Hmac, KeyInit, Mac};
use keyward_tests::{Backend, ReceivedWebhook, TestServer, WebhookReceiver, backend_tests, json};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// `v1,<base64 HMAC-SHA256>` computed with RustCrypto's `hmac` (the server signs with aws-lc-rs).
fn independent_signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    let key = BASE64.decode(secret.strip_prefix("whsec_").expect("whsec_ secret")).expect("base64 secret");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

fn assert_signed(hook: &ReceivedWebhook, secret: &str) {
    assert!(hook.id.starts_with("msg_"), "webhook-id: {}", hook.id);
    let ts: i64 = hook.timestamp.parse().expect("webhook-timestamp is unix seconds");
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 120, "timestamp is current");
    let expected = independent_signature(secret, &hook.id, &hook.timestamp, &hook.raw_body);
    assert!(hook.signature.split(' ').any(|s| s == expected), "signature {} != {expected}", hook.signature);
    // The SDK's verifier agrees, and a tampered body fails it.
    let headers = [
        ("webhook-id", hook.id.as_str()),
        ("webhook-timestamp", hook.timestamp.as_str()),
        ("webhook-signature", hook.signature.as_str()),
    ];
    keyward::webhooks::verify(hook.raw_body.as_bytes(), &headers[..], secret)
        .expect("keyward::webhooks::verify accepts it");
    let tampered = hook.raw_body.replace("api_key", "api_kez");
    assert!(keyward::webhooks::verify(tampered.as_bytes(), &headers[..], secret).is_err());
}

async fn create_endpoint(server: &TestServer, url: &str, event_types: Value) -> (String, String) {
    let r =
        server.post("/v1/webhook-endpoints", &server.admin_key, json!({"url": url, "event_types": event_types})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.body["secret"].as_str().expect("secret shown on create").to_string();
    assert!(secret.starts_with("whsec_"));
    (r.body["id"].as_str().unwrap().to_string(), secret)
}

async fn deliveries(server: &TestServer, query: &str) -> Vec<Value> {
    let r = server.get(&format!("/v1/webhook-deliveries{query}"), &server.admin_key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

/// Polls until the delivery reaches `status` (bounded).
async fn wait_for_delivery_status(server: &TestServer, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let r = server.get(&format!("/v1/webhook-deliveries/{id}"), &server.admin_key).await;
        assert_eq!(r.status, StatusCode::OK);
        if r.body["status"] == status {
            return r.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "delivery never became {status}: {}", r.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn signed_events_reach_the_endpoint(backend: Backend) {
    let server = TestServer::start(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    let (endpoint_id, secret) = create_endpoint(&server, &receiver.url, json!([])).await;
    let endpoint = server.get(&format!("/v1/webhook-endpoints/{endpoint_id}"), &server.admin_key).await;
    assert!(endpoint.body.get("secret").is_none(), "the secret is shown once: {}", endpoint.body);

    let created = server.create_key(json!({"name": "announced"})).await;
    let plaintext = created["key"].as_str().unwrap();
    let hooks = receiver.wait_for(1, WAIT).await;
    assert_eq!(hooks[0].event_type(), "api_key.created");
    assert_eq!(hooks[0].body["data"]["api_key"]["id"], created["id"]);
    assert_signed(&hooks[0], &secret);
    assert!(!hooks[0].raw_body.contains(plaintext), "no plaintext in a webhook");

    let listed = deliveries(&server, &format!("?endpoint_id={endpoint_id}")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["event_id"], hooks[0].id.as_str());
    let done = wait_for_delivery_status(&server, listed[0]["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["last_status_code"], 200);

    // Rotating the endpoint secret: later deliveries use the new one only.
    let rotated =
        server.post(&format!("/v1/webhook-endpoints/{endpoint_id}/rotate-secret"), &server.admin_key, json!({})).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    server.delete(&format!("/v1/api-keys/{}", created["id"].as_str().unwrap()), &server.admin_key).await;
    let hooks = receiver.wait_for(2, WAIT).await;
    assert_eq!(hooks[1].event_type(), "api_key.revoked");
    assert_signed(&hooks[1], &new_secret);
    assert_ne!(
        independent_signature(&secret, &hooks[1].id, &hooks[1].timestamp, &hooks[1].raw_body),
        hooks[1].signature
    );
    server.stop().await;
}

async fn failing_receiver_gets_three_attempts_with_one_webhook_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let receiver = WebhookReceiver::start(&[500, 500, 200]).await;
    let (_, secret) = create_endpoint(&server, &receiver.url, json!(["api_key.created"])).await;
    server.create_key(json!({"name": "retried"})).await;
    let hooks = receiver.wait_for(3, WAIT).await;
    assert_eq!(hooks.len(), 3, "exactly three attempts");
    assert!(hooks.iter().all(|h| h.id == hooks[0].id), "one webhook-id across retries");
    for hook in &hooks {
        assert_signed(hook, &secret);
    }
    let listed = deliveries(&server, "?event_type=api_key.created").await;
    let done = wait_for_delivery_status(&server, listed[0]["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(done["attempts"], 3);
    // Nothing more arrives after the success.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 3);
    server.stop().await;
}

async fn exhausted_retries_dead_letter_and_redeliver(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.webhook_retry_delays = vec![Duration::from_millis(50); 2]).await;
    let receiver = WebhookReceiver::start(&[503, 503, 503]).await;
    create_endpoint(&server, &receiver.url, json!([])).await;
    server.create_key(json!({"name": "dead letter"})).await;
    receiver.wait_for(3, WAIT).await;
    let listed = deliveries(&server, "").await;
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let failed = wait_for_delivery_status(&server, &id, "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["last_status_code"], 503);
    assert!(failed["last_error"].as_str().unwrap().contains("503"));
    assert_eq!(deliveries(&server, "?status=failed").await.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3, "no attempts after dead-lettering");

    let again = server.post(&format!("/v1/webhook-deliveries/{id}/redeliver"), &server.admin_key, json!({})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    let hooks = receiver.wait_for(4, WAIT).await;
    assert_eq!(hooks[3].id, hooks[0].id, "redelivery keeps the webhook-id");
    let done = wait_for_delivery_status(&server, &id, "succeeded").await;
    assert_eq!(done["attempts"], 4);
    let missing = server
        .post(&format!("/v1/webhook-deliveries/{}/redeliver", uuid::Uuid::now_v7()), &server.admin_key, json!({}))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    server.stop().await;
}

async fn private_targets_are_refused(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.webhook_allow_private = false).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://10.0.0.7/",
    ] {
        let r = server.post("/v1/webhook-endpoints", &server.admin_key, json!({"url": url})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.body);
        assert!(r.error_message().starts_with("url:"), "{}", r.body);
        let r = server.post("/v1/api-keys", &server.admin_key, json!({"name": "k", "rotation_webhook_url": url})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.body);
        assert!(r.error_message().starts_with("rotation_webhook_url:"));
    }
    let r = server.post("/v1/webhook-endpoints", &server.admin_key, json!({"url": "ftp://example.com/x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = server
        .post(
            "/v1/webhook-endpoints",
            &server.admin_key,
            json!({"url": "https://hooks.example.com/k", "event_types": ["api_key.nope"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error_message().contains("event_types"), "{}", r.body);
    // A public name is accepted when saved (it is resolved, and checked again, at delivery).
    let r =
        server.post("/v1/webhook-endpoints", &server.admin_key, json!({"url": "https://hooks.example.com/k"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    server.stop().await;
}

async fn event_filters_and_tenancy(backend: Backend) {
    let server = TestServer::start(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    create_endpoint(&server, &receiver.url, json!(["api_key.revoked"])).await;
    let (_, other_admin) = server.new_tenant("Other").await;
    let created = server.create_key(json!({"name": "filtered"})).await;
    let r = server.post("/v1/api-keys", &other_admin, json!({"name": "other tenant"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    server.delete(&format!("/v1/api-keys/{}", r.body["id"].as_str().unwrap()), &other_admin).await;
    server.delete(&format!("/v1/api-keys/{}", created["id"].as_str().unwrap()), &server.admin_key).await;
    let hooks = receiver.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let hooks_after = receiver.received();
    assert_eq!(
        hooks_after.len(),
        1,
        "only the filtered event of this tenant: {:?}",
        hooks_after.iter().map(|h| h.event_type().to_string()).collect::<Vec<_>>()
    );
    assert_eq!(hooks[0].event_type(), "api_key.revoked");
    assert_eq!(hooks[0].body["data"]["api_key"]["id"], created["id"]);
    assert_eq!(deliveries(&server, "").await.len(), 1);
    // Another tenant sees none of it.
    let r = server.get("/v1/webhook-deliveries", &other_admin).await;
    assert_eq!(r.body, json!([]));
    let r = server.get("/v1/webhook-endpoints", &other_admin).await;
    assert_eq!(r.body, json!([]));
    // A key without orgs:admin may not manage webhooks.
    let reader = server.create_key(json!({"name": "reader", "scopes": ["keys:read"]})).await;
    let r = server.get("/v1/webhook-endpoints", reader["key"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    server.stop().await;
}

async fn scheduled_rotation_announces_without_the_plaintext(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.scheduler_interval = Duration::from_millis(100)).await;
    let receiver = WebhookReceiver::start(&[]).await;
    let signing = server.post("/v1/webhook-signing-secret", &server.admin_key, json!({})).await;
    assert_eq!(signing.status, StatusCode::OK, "{}", signing.body);
    let secret = signing.body["secret"].as_str().unwrap().to_string();
    let created = server
        .create_key(json!({"name": "rotating", "rotation_interval_days": 30, "rotation_webhook_url": receiver.url, "scopes": ["billing:*"]}))
        .await;
    let old_id = created["id"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(created["next_rotation_at"].as_str().unwrap()).unwrap();
    assert!((next.timestamp() - chrono::Utc::now().timestamp() - 30 * 86_400).abs() < 60);
    assert_eq!(
        server
            .sql(&format!(
                "UPDATE api_keys SET next_rotation_at = 1000, rotation_due_warned_at = 1 WHERE id = '{old_id}'"
            ))
            .await,
        1
    );

    let hooks = receiver.wait_for(1, WAIT).await;
    assert_eq!(hooks[0].event_type(), "api_key.rotated");
    assert_signed(&hooks[0], &secret);
    let data = &hooks[0].body["data"];
    assert_eq!(data["api_key"]["id"], old_id);
    assert_eq!(data["scheduled"], true);
    let new_id = data["new_api_key"]["id"].as_str().unwrap().to_string();
    assert!(hooks[0].body.to_string().find("\"key\"").is_none(), "no plaintext field in the event");

    let old = server.get(&format!("/v1/api-keys/{old_id}"), &server.admin_key).await.body;
    assert_eq!(old["replaced_by_key_id"], new_id.as_str());
    assert!(old["grace_expires_at"].is_string(), "a scheduled rotation leaves a grace period: {old}");
    let new = server.get(&format!("/v1/api-keys/{new_id}"), &server.admin_key).await.body;
    assert_eq!(new["source"], "rotation");
    assert_eq!(new["rotation_interval_days"], 30);
    assert_eq!(new["scopes"], json!(["billing:*"]));
    assert_eq!(new["rotation_webhook_url"], receiver.url.as_str());
    assert!(new["next_rotation_at"].is_string(), "the schedule carries over");
    // The old key keeps working through the grace period; the owner gets the
    // new key's secret by regenerating it.
    assert_eq!(server.verify(created["key"].as_str().unwrap()).await["code"], "VALID");
    let regenerated = server.post(&format!("/v1/api-keys/{new_id}/regenerate"), &server.admin_key, json!({})).await;
    assert_eq!(regenerated.status, StatusCode::OK);
    assert_eq!(server.verify(regenerated.body["key"].as_str().unwrap()).await["code"], "VALID");

    // Audited as the scheduler's doing; rotated exactly once.
    let audit = server.get("/v1/audit-events?action=api_key.rotated", &server.admin_key).await.body;
    let rotated: Vec<&Value> = audit.as_array().unwrap().iter().filter(|e| e["target"]["id"] == old_id).collect();
    assert_eq!(rotated.len(), 1, "{audit}");
    assert_eq!(rotated[0]["actor"]["type"], "system");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.of_type("api_key.rotated").len(), 1);
    server.stop().await;
}

async fn warnings_are_sent_once(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.scheduler_interval = Duration::from_millis(100)).await;
    let receiver = WebhookReceiver::start(&[]).await;
    create_endpoint(&server, &receiver.url, json!(["api_key.expiring", "api_key.rotation_due"])).await;
    let in_two_days = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let in_thirty_days = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let expiring = server.create_key(json!({"name": "expiring", "expires_at": in_two_days})).await;
    server.create_key(json!({"name": "not yet", "expires_at": in_thirty_days})).await;
    let due = server.create_key(json!({"name": "rotation due", "rotation_interval_days": 3})).await;
    server.create_key(json!({"name": "rotation later", "rotation_interval_days": 90})).await;
    // A project that turned warnings off.
    let project =
        server.post("/v1/projects", &server.admin_key, json!({"name": "quiet", "expiry_warning_days": 0})).await;
    assert_eq!(project.status, StatusCode::CREATED, "{}", project.body);
    assert_eq!(project.body["expiry_warning_days"], 0);
    server.create_key(json!({"name": "quiet", "project_id": project.body["id"], "expires_at": in_two_days})).await;

    receiver.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(1000)).await; // ~10 more scheduler passes
    let expiring_hooks = receiver.of_type("api_key.expiring");
    assert_eq!(expiring_hooks.len(), 1, "announced once");
    assert_eq!(expiring_hooks[0].body["data"]["api_key"]["id"], expiring["id"]);
    assert!(expiring_hooks[0].body["data"]["expires_at"].is_string());
    let due_hooks = receiver.of_type("api_key.rotation_due");
    assert_eq!(due_hooks.len(), 1);
    assert_eq!(due_hooks[0].body["data"]["api_key"]["id"], due["id"]);

    // Moving expires_at earns a new warning for the new date.
    let in_one_day = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let r = server
        .patch(
            &format!("/v1/api-keys/{}", expiring["id"].as_str().unwrap()),
            &server.admin_key,
            json!({"expires_at": in_one_day}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + WAIT;
    while receiver.of_type("api_key.expiring").len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no warning for the moved date");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

async fn usage_exceeded_is_announced_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    create_endpoint(&server, &receiver.url, json!(["api_key.usage_exceeded"])).await;
    let created = server.create_key(json!({"name": "metered", "usage_limit": {"remaining": 1}})).await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(server.verify(key).await["code"], "VALID");
    for _ in 0..3 {
        assert_eq!(server.verify(key).await["code"], "USAGE_EXCEEDED");
    }
    let hooks = receiver.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1, "once per quota period");
    assert_eq!(hooks[0].body["data"]["api_key"]["id"], created["id"]);
    server.stop().await;
}

// ---------------------------------------------------------------- leak reports

struct LeakSigner {
    pair: aws_lc_rs::signature::EcdsaKeyPair,
    _dir: tempfile::TempDir,
    pem_path: std::path::PathBuf,
}

impl LeakSigner {
    /// A fresh P-256 key pair, the public half written as PEM (as an operator would configure GitHub's).
    fn new() -> LeakSigner {
        use aws_lc_rs::{encoding::AsDer, signature::KeyPair};
        let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING)
            .unwrap();
        let der = pair.public_key().as_der().unwrap();
        let body = BASE64.encode(der.as_ref());
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"));
        let dir = tempfile::tempdir().unwrap();
        let pem_path = dir.path().join("github-keys.pem");
        std::fs::write(&pem_path, pem).unwrap();
        LeakSigner { pair, _dir: dir, pem_path }
    }

    fn sign(&self, body: &str) -> String {
        BASE64.encode(self.pair.sign(&aws_lc_rs::rand::SystemRandom::new(), body.as_bytes()).unwrap().as_ref())
    }
}

async fn report(server: &TestServer, body: &str, signature: &str) -> keyward_tests::Response {
    let r = server
        .raw(reqwest::Method::POST, "/v1/leaks/report")
        .header("content-type", "application/json")
        .header("Github-Public-Key-Identifier", "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")
        .header("Github-Public-Key-Signature", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    keyward_tests::Response::read(r).await
}

async fn leak_reports_revoke_or_flag_and_reveal_nothing(backend: Backend) {
    let signer = LeakSigner::new();
    let keys = keyward_server::config::load_leak_report_keys(&signer.pem_path).expect("PEM loads");
    let server = TestServer::start_with(backend, move |c| c.leak_report_keys = keys).await;
    let receiver = WebhookReceiver::start(&[]).await;
    create_endpoint(&server, &receiver.url, json!(["api_key.leaked"])).await;
    let leaked = server.create_key(json!({"name": "leaked"})).await;
    let bystander = server.create_key(json!({"name": "bystander"})).await;
    let flag_project =
        server.post("/v1/projects", &server.admin_key, json!({"name": "flag only", "leak_policy": "flag"})).await;
    assert_eq!(flag_project.body["leak_policy"], "flag");
    let flagged = server.create_key(json!({"name": "flagged", "project_id": flag_project.body["id"]})).await;
    let leaked_key = leaked["key"].as_str().unwrap();
    // Warm the cache: the revoke must take effect on a cached key.
    assert_eq!(server.verify(leaked_key).await["code"], "VALID");

    // A bad signature changes nothing.
    let body = json!([{"token": leaked_key, "type": "keyward_api_key", "url": "https://github.com/o/r/blob/x", "source": "content"}]).to_string();
    let forged = report(&server, &body, &signer.sign("[]")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    let unsigned = server.raw(reqwest::Method::POST, "/v1/leaks/report").body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::FORBIDDEN);
    let other_signer = LeakSigner::new();
    assert_eq!(report(&server, &body, &other_signer.sign(&body)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.verify(leaked_key).await["code"], "VALID", "a forged report revokes nothing");

    // A valid one: the key is revoked; an unknown token answers the same.
    let body = json!([
        {"token": leaked_key, "type": "keyward_api_key", "url": "https://github.com/o/r/blob/x", "source": "content"},
        {"token": "kw_live_notarealkeynotarealkeynotarealkeyAAAAAA", "type": "keyward_api_key", "url": "https://github.com/o/r", "source": "commit"},
        {"token": flagged["key"], "type": "keyward_api_key", "url": "https://github.com/o/r/issues/1", "source": "issue_comment"},
    ])
    .to_string();
    let r = report(&server, &body, &signer.sign(&body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"received": 3}), "the answer does not say what matched");
    assert_eq!(server.verify(leaked_key).await["code"], "REVOKED");
    assert_eq!(server.verify(bystander["key"].as_str().unwrap()).await["code"], "VALID");
    assert_eq!(server.verify(flagged["key"].as_str().unwrap()).await["code"], "VALID", "flag policy keeps the key");

    let hooks = receiver.wait_for(2, WAIT).await;
    let by_key =
        |id: &Value| hooks.iter().find(|h| &h.body["data"]["api_key"]["id"] == id).cloned().expect("event for key");
    assert_eq!(by_key(&leaked["id"]).body["data"]["action"], "revoked");
    assert_eq!(by_key(&leaked["id"]).body["data"]["url"], "https://github.com/o/r/blob/x");
    assert_eq!(by_key(&flagged["id"]).body["data"]["action"], "flagged");
    assert!(hooks.iter().all(|h| !h.raw_body.contains(leaked_key)), "the token is not echoed");
    let audit = server.get("/v1/audit-events?action=api_key.leaked", &server.admin_key).await.body;
    assert_eq!(audit.as_array().unwrap().len(), 2, "{audit}");
    assert!(!audit.to_string().contains(leaked_key));

    // A second report of the same (now revoked) key is accepted and changes nothing.
    let r = report(&server, &body, &signer.sign(&body)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = report(&server, "{\"not\": \"an array\"}", &signer.sign("{\"not\": \"an array\"}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

async fn leak_reports_need_configured_keys(backend: Backend) {
    let server = TestServer::start(backend).await;
    let r = report(&server, "[]", "MEUCIQ==").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.error_message().contains("KEYWARD_LEAK_REPORT_PUBLIC_KEYS"));
    server.stop().await;
}

// ---------------------------------------------------------------- import

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

async fn imported_keys_verify_like_native_ones(backend: Backend) {
    let server = TestServer::start(backend).await;
    let legacy = "sk_live_Legacy0123456789abcdefXYZ";
    // Before the import it is just a malformed key.
    assert_eq!(server.verify(legacy).await["code"], "MALFORMED");
    let body = json!({"keys": [
        {"key_hash": sha256_hex(legacy), "key_prefix": "sk_live_Lega", "last4": "fXYZ", "name": "legacy billing", "scopes": ["billing:*"], "meta": {"migrated": true}},
        {"key_hash": sha256_hex("another-legacy-key-0000000000"), "key_prefix": "another", "name": "legacy two", "environment": "test"},
    ]});
    let r = server.post("/v1/api-keys/import", &server.admin_key, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let imported = r.body["imported"].as_array().unwrap();
    assert_eq!(imported.len(), 2);
    assert_eq!(imported[0]["source"], "import");
    assert_eq!(imported[0]["key_prefix"], "sk_live_Lega");
    assert!(imported[0].get("key").is_none(), "no plaintext exists to return");

    let verified = server.verify(legacy).await;
    assert_eq!(verified["code"], "VALID", "{verified}");
    assert_eq!(verified["key_id"], imported[0]["id"]);
    assert_eq!(verified["scopes"], json!(["billing:*"]));
    assert_eq!(server.verify("sk_live_Legacy0123456789abcdefXYy").await["code"], "MALFORMED");
    assert_eq!(server.verify("kw_live_short").await["code"], "MALFORMED");
    let listed = server.get("/v1/api-keys?environment=test", &server.admin_key).await.body;
    assert_eq!(listed[0]["id"], imported[1]["id"]);

    // Lifecycle works on imported keys: revoke → REVOKED.
    server.delete(&format!("/v1/api-keys/{}", imported[0]["id"].as_str().unwrap()), &server.admin_key).await;
    assert_eq!(server.verify(legacy).await["code"], "REVOKED");

    // All or nothing: a duplicate hash is a conflict and nothing of the batch is stored.
    let dup = json!({"keys": [
        {"key_hash": sha256_hex("fresh-legacy-key-111111111111"), "key_prefix": "fresh", "name": "fresh"},
        {"key_hash": sha256_hex(legacy), "key_prefix": "sk_live_Lega", "name": "again"},
    ]});
    let r = server.post("/v1/api-keys/import", &server.admin_key, dup).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.error_message().starts_with("keys[1].key_hash"));
    assert_eq!(server.verify("fresh-legacy-key-111111111111").await["code"], "MALFORMED", "rolled back");

    for (bad, field) in [
        (json!({"keys": [{"key_hash": "abc", "key_prefix": "x", "name": "n"}]}), "keys[0].key_hash"),
        (
            json!({"keys": [{"key_hash": sha256_hex("z-0000000000000000"), "key_prefix": "", "name": "n"}]}),
            "keys[0].key_prefix",
        ),
        (
            json!({"keys": [{"key_hash": sha256_hex("z-0000000000000000"), "key_prefix": "p", "name": "n", "scopes": ["Bad Scope"]}]}),
            "keys[0].scopes[0]",
        ),
        (json!({"keys": []}), "keys"),
    ] {
        let r = server.post("/v1/api-keys/import", &server.admin_key, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert!(r.error_message().starts_with(field), "{} should name {field}", r.body);
    }
    // Import survives a restart (verify still looks foreign keys up by hash).
    let server = server.restart().await;
    assert_eq!(server.verify("another-legacy-key-0000000000").await["code"], "VALID");
    server.stop().await;
}

backend_tests!(
    signed_events_reach_the_endpoint,
    failing_receiver_gets_three_attempts_with_one_webhook_id,
    exhausted_retries_dead_letter_and_redeliver,
    private_targets_are_refused,
    event_filters_and_tenancy,
    scheduled_rotation_announces_without_the_plaintext,
    warnings_are_sent_once,
    usage_exceeded_is_announced_once,
    leak_reports_revoke_or_flag_and_reveal_nothing,
    leak_reports_need_configured_keys,
    imported_keys_verify_like_native_ones,
);
