//! Webhook secrets at rest and the webhook edges, against a real server on
//! loopback over real SQLite and Postgres: the database holds only sealed
//! secrets (and old plaintext rows are sealed at start), the key-encryption
//! key rotates, SQLite makes its own key file, Postgres refuses to run without
//! the key once secrets exist; the per-organization endpoint cap, fair
//! delivery slots, proxies, and the retention purges.

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use keyward_server::{
    config::SecretString,
    secrets::{self, SecretsKeyring},
};
use keyward_tests::{
    Backend, ReceivedWebhook, ServerProcess, TestDatabase, TestServer, WebhookReceiver, backend_tests, json,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn assert_verifies(hook: &ReceivedWebhook, secret: &str) {
    let headers = [
        ("webhook-id", hook.id.as_str()),
        ("webhook-timestamp", hook.timestamp.as_str()),
        ("webhook-signature", hook.signature.as_str()),
    ];
    keyward::webhooks::verify(hook.raw_body.as_bytes(), &headers[..], secret).expect("signed with the secret shown");
}

async fn create_endpoint(server: &TestServer, key: &str, url: &str) -> (String, String) {
    let r = server.post("/v1/webhook-endpoints", key, json!({"url": url})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (r.body["id"].as_str().unwrap().to_string(), r.body["secret"].as_str().unwrap().to_string())
}

async fn scalar(server: &TestServer, sql: &str) -> Option<String> {
    sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(server.state.store.pool())
        .await
        .expect("test query")
}

/// Everything the database holds, as text (SQLite: the files themselves).
async fn database_text(server: &TestServer) -> String {
    match server.backend {
        Backend::Sqlite => {
            server.sql("PRAGMA wal_checkpoint(TRUNCATE)").await;
            let db = server.database.url.trim_start_matches("sqlite://").to_string();
            let mut bytes = std::fs::read(&db).expect("read the database file");
            bytes.extend(std::fs::read(format!("{db}-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => {
            let mut text = String::new();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(server.state.store.pool())
            .await
            .unwrap();
            for table in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST(t AS TEXT) FROM {table} t")))
                        .fetch_all(server.state.store.pool())
                        .await
                        .unwrap();
                text.extend(rows);
            }
            text
        }
    }
}

/// The base64 body of a `whsec_` secret: what must not be found anywhere.
fn secret_body(secret: &str) -> &str {
    secret.strip_prefix("whsec_").unwrap()
}

async fn raw_database_holds_no_webhook_secret(backend: Backend) {
    let server = TestServer::start(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    let (endpoint_id, endpoint_secret) = create_endpoint(&server, &server.admin_key, &receiver.url).await;
    let signing = server.post("/v1/webhook-signing-secret", &server.admin_key, json!({})).await;
    assert_eq!(signing.status, StatusCode::OK, "{}", signing.body);
    let org_secret = signing.body["secret"].as_str().unwrap().to_string();

    let stored_endpoint =
        scalar(&server, &format!("SELECT secret FROM webhook_endpoints WHERE id = '{endpoint_id}'")).await.unwrap();
    let stored_org = scalar(
        &server,
        &format!("SELECT key_webhook_secret FROM organizations WHERE id = '{}'", server.organization_id),
    )
    .await
    .unwrap();
    for stored in [&stored_endpoint, &stored_org] {
        assert!(stored.starts_with("enc:v1:"), "sealed: {stored}");
        assert!(!stored.contains(secret_body(&endpoint_secret)) && !stored.contains(secret_body(&org_secret)));
    }
    // A sealed value does not open in another row.
    assert!(server.state.secrets.open(&secrets::organization_aad(&server.organization_id), &stored_endpoint).is_err());

    // Deliveries still verify with the secrets shown: the endpoint's, and the
    // organization's on a key's own rotation URL.
    let created = server.create_key(json!({"name": "sealed", "rotation_webhook_url": receiver.url})).await;
    let rotated = server
        .post(&format!("/v1/api-keys/{}/rotate", created["id"].as_str().unwrap()), &server.admin_key, json!({}))
        .await;
    assert!(rotated.status.is_success(), "{}", rotated.body);
    let deadline = tokio::time::Instant::now() + WAIT;
    while receiver.of_type("api_key.rotated").len() < 2 || receiver.of_type("api_key.created").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "deliveries arrived: {:?}", receiver.received());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let by_endpoint: Vec<_> = receiver.received().into_iter().filter(|h| h.event_type() == "api_key.created").collect();
    assert_verifies(&by_endpoint[0], &endpoint_secret);
    let rotations = receiver.of_type("api_key.rotated");
    assert_eq!(rotations.len(), 2, "one to the endpoint, one to the key's rotation URL");
    let verified_with = |secret: &str| {
        rotations
            .iter()
            .filter(|h| {
                let headers = [
                    ("webhook-id", h.id.as_str()),
                    ("webhook-timestamp", h.timestamp.as_str()),
                    ("webhook-signature", h.signature.as_str()),
                ];
                keyward::webhooks::verify(h.raw_body.as_bytes(), &headers[..], secret).is_ok()
            })
            .count()
    };
    assert_eq!((verified_with(&endpoint_secret), verified_with(&org_secret)), (1, 1));

    // Nowhere in the database: not in the rows, the audit trail or the idempotency store.
    let everything = database_text(&server).await;
    assert!(everything.contains(&endpoint_id), "the dump is readable");
    for secret in [&endpoint_secret, &org_secret] {
        assert!(!everything.contains(secret_body(secret)), "a webhook secret is stored in the clear");
    }
    server.stop().await;
}

async fn plaintext_rows_are_sealed_at_start(backend: Backend) {
    let server = TestServer::start(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    // Rows as an older version wrote them.
    let legacy = format!("whsec_{}", BASE64.encode([7u8; 32]));
    let org_legacy = format!("whsec_{}", BASE64.encode([8u8; 32]));
    let endpoint_id = uuid::Uuid::now_v7().to_string();
    server
        .sql(&format!(
            "INSERT INTO webhook_endpoints (id, organization_id, url, description, event_types, secret, is_active, created_at, \
             updated_at, deleted_at) VALUES ('{endpoint_id}', '{}', '{}', NULL, '[]', '{legacy}', 1, 1, 1, NULL)",
            server.organization_id, receiver.url
        ))
        .await;
    server
        .sql(&format!(
            "UPDATE organizations SET key_webhook_secret = '{org_legacy}' WHERE id = '{}'",
            server.organization_id
        ))
        .await;

    assert_eq!(secrets::startup(&server.state.store, &server.state.secrets).await.expect("migrate"), 2);
    let stored =
        scalar(&server, &format!("SELECT secret FROM webhook_endpoints WHERE id = '{endpoint_id}'")).await.unwrap();
    let stored_org = scalar(
        &server,
        &format!("SELECT key_webhook_secret FROM organizations WHERE id = '{}'", server.organization_id),
    )
    .await
    .unwrap();
    assert!(stored.starts_with("enc:v1:") && stored_org.starts_with("enc:v1:"), "{stored} {stored_org}");
    assert_eq!(server.state.secrets.open(&secrets::endpoint_aad(&endpoint_id), &stored).unwrap().expose(), legacy);
    assert_eq!(
        server.state.secrets.open(&secrets::organization_aad(&server.organization_id), &stored_org).unwrap().expose(),
        org_legacy
    );
    // Nothing left to do on the next start.
    assert_eq!(secrets::startup(&server.state.store, &server.state.secrets).await.unwrap(), 0);

    // A restart (which runs the same pass) changes nothing, and deliveries sign with the old secret.
    let server = server.restart().await;
    assert_eq!(
        scalar(&server, &format!("SELECT secret FROM webhook_endpoints WHERE id = '{endpoint_id}'")).await.unwrap(),
        stored
    );
    server.create_key(json!({"name": "after migration"})).await;
    let hooks = receiver.wait_for(1, WAIT).await;
    assert_verifies(&hooks[0], &legacy);
    server.stop().await;
}

fn key_text(byte: u8) -> SecretString {
    SecretString(BASE64.encode([byte; 32]))
}

async fn rotating_the_secrets_key_reseals_rows(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.secrets_key = Some(key_text(0xa1))).await;
    let receiver = WebhookReceiver::start(&[]).await;
    let (endpoint_id, endpoint_secret) = create_endpoint(&server, &server.admin_key, &receiver.url).await;
    let org_secret = server.post("/v1/webhook-signing-secret", &server.admin_key, json!({})).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let kid = |b: u8| secrets::key_id(&[b; 32]);
    let endpoint_sql = format!("SELECT secret FROM webhook_endpoints WHERE id = '{endpoint_id}'");
    let org_sql = format!("SELECT key_webhook_secret FROM organizations WHERE id = '{}'", server.organization_id);
    assert!(scalar(&server, &endpoint_sql).await.unwrap().starts_with(&format!("enc:v1:{}:", kid(0xa1))));

    // Current B, previous A: rows open, and are re-sealed under B at start.
    let server = server
        .restart_with(|c| {
            c.secrets_key = Some(key_text(0xb2));
            c.secrets_key_previous = vec![key_text(0xa1)];
        })
        .await;
    let only_b = SecretsKeyring::new(Some([0xb2; 32]), &[]);
    let stored = scalar(&server, &endpoint_sql).await.unwrap();
    let stored_org = scalar(&server, &org_sql).await.unwrap();
    assert!(stored.starts_with(&format!("enc:v1:{}:", kid(0xb2))), "{stored}");
    assert!(stored_org.starts_with(&format!("enc:v1:{}:", kid(0xb2))), "{stored_org}");
    assert_eq!(only_b.open(&secrets::endpoint_aad(&endpoint_id), &stored).unwrap().expose(), endpoint_secret);
    assert_eq!(
        only_b.open(&secrets::organization_aad(&server.organization_id), &stored_org).unwrap().expose(),
        org_secret
    );
    server.create_key(json!({"name": "after rotation"})).await;
    assert_verifies(&receiver.wait_for(1, WAIT).await[0], &endpoint_secret);

    // A row sealed under A that the pass has not reached opens too, and is
    // re-sealed under B when next written (an update of the endpoint).
    let under_a = SecretsKeyring::new(Some([0xa1; 32]), &[])
        .seal(&secrets::endpoint_aad(&endpoint_id), &endpoint_secret)
        .unwrap();
    server.sql(&format!("UPDATE webhook_endpoints SET secret = '{under_a}' WHERE id = '{endpoint_id}'")).await;
    let r = server
        .patch(&format!("/v1/webhook-endpoints/{endpoint_id}"), &server.admin_key, json!({"description": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let stored = scalar(&server, &endpoint_sql).await.unwrap();
    assert!(stored.starts_with(&format!("enc:v1:{}:", kid(0xb2))), "{stored}");
    assert_eq!(only_b.open(&secrets::endpoint_aad(&endpoint_id), &stored).unwrap().expose(), endpoint_secret);

    // Without A among the previous keys, a row sealed under A stops the start with a clear error.
    server.sql(&format!("UPDATE webhook_endpoints SET secret = '{under_a}' WHERE id = '{endpoint_id}'")).await;
    let err = secrets::startup(&server.state.store, &only_b).await.expect_err("unknown key");
    assert!(format!("{err:#}").contains("KEYWARD_SECRETS_KEY_PREVIOUS"), "{err:#}");
    server.stop().await;
}

async fn no_key_refuses_once_secrets_exist(backend: Backend) {
    let server = TestServer::start(backend).await;
    let keyless = SecretsKeyring::new(None, &[]);
    // No secret yet: starting without a key is allowed (with a warning).
    assert_eq!(secrets::startup(&server.state.store, &keyless).await.unwrap(), 0);
    create_endpoint(&server, &server.admin_key, "https://hooks.example.com/a").await;
    let err = secrets::startup(&server.state.store, &keyless).await.expect_err("refuses without the key");
    assert!(format!("{err}").contains("KEYWARD_SECRETS_KEY is not set"), "{err}");
    server.stop().await;

    if backend == Backend::Postgres {
        // A Postgres server without the key and without secrets answers 503 secrets_key_missing.
        let server = TestServer::start_with(backend, |c| c.secrets_key = None).await;
        for path in ["/v1/webhook-endpoints", "/v1/webhook-signing-secret"] {
            let r = server.post(path, &server.admin_key, json!({"url": "https://hooks.example.com/a"})).await;
            assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {}", r.body);
            assert_eq!(r.body["code"], "secrets_key_missing");
            assert!(r.error_message().contains("KEYWARD_SECRETS_KEY"));
        }
        server.stop().await;

        // The binary, on a database holding a secret, exits naming the variable.
        let db = TestDatabase::create(backend).await;
        let first = ServerProcess::start(&db.url, &[]).await;
        let admin = first.stdout_first_line.clone().expect("bootstrap key");
        let r = reqwest::Client::new()
            .post(format!("{}/v1/webhook-endpoints", first.base_url))
            .bearer_auth(&admin)
            .json(&json!({"url": "https://hooks.example.com/a"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        drop(first);
        let mut child = std::process::Command::new(keyward_tests::server_binary())
            .args(["--listen", "127.0.0.1:0", "--database-url", &db.url])
            .env("KEYWARD_LOG", "warn")
            .env("KEYWARD_SECRETS_KEY", "")
            .env_remove("KEYWARD_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run keyward");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("keyward kept running without KEYWARD_SECRETS_KEY on a database holding secrets");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(!status.success(), "refused to start");
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(stderr.contains("KEYWARD_SECRETS_KEY is not set"), "{stderr}");
        db.drop_database().await;
    }
}

/// SQLite without a configured key: `keyward.key` beside the database, mode
/// 0600, announced once, reused on the next start.
async fn sqlite_key_file(backend: Backend) {
    if backend != Backend::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
    let key_path = dir.path().join("keyward.key");
    let receiver = WebhookReceiver::start(&[]).await;
    let env = [("KEYWARD_WEBHOOK_ALLOW_PRIVATE", "true"), ("KEYWARD_WEBHOOK_POLL_INTERVAL_MS", "50")];
    let first = ServerProcess::start(&url, &env).await;
    let admin = first.stdout_first_line.clone().expect("bootstrap key");
    let key_text = std::fs::read_to_string(&key_path).expect("keyward.key created");
    assert_eq!(BASE64.decode(key_text.trim()).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{}/v1/webhook-endpoints", first.base_url))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().expect("created").to_string();
    let logs = first.stop_and_read_logs();
    assert!(logs.contains(&key_path.display().to_string()), "the key file is announced: {logs}");
    assert!(!logs.contains(secret_body(&secret)), "no secret in the logs");

    let second = ServerProcess::start(&url, &env).await;
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), key_text, "reused, not replaced");
    let r = http
        .post(format!("{}/v1/api-keys", second.base_url))
        .bearer_auth(&admin)
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_verifies(&receiver.wait_for(1, WAIT).await[0], &secret);
    let logs = second.stop_and_read_logs();
    assert!(!logs.contains("created a key file"), "announced once: {logs}");
}

async fn endpoints_per_organization_are_capped(backend: Backend) {
    let server = TestServer::start_with(backend, |c| c.webhook_max_endpoints = 3).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(create_endpoint(&server, &server.admin_key, &format!("https://hooks.example.com/{i}")).await.0);
    }
    let r =
        server.post("/v1/webhook-endpoints", &server.admin_key, json!({"url": "https://hooks.example.com/4"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "limit_reached");
    assert!(r.error_message().contains("3 webhook endpoints"), "{}", r.body);
    // Another organization has its own allowance; a deleted endpoint frees a place.
    let (_, other_admin) = server.new_tenant("Other").await;
    create_endpoint(&server, &other_admin, "https://hooks.example.com/other").await;
    assert_eq!(
        server.delete(&format!("/v1/webhook-endpoints/{}", ids[0]), &server.admin_key).await.status,
        StatusCode::NO_CONTENT
    );
    create_endpoint(&server, &server.admin_key, "https://hooks.example.com/again").await;
    server.stop().await;
}

/// A receiver that holds every request until released.
struct StuckReceiver {
    url: String,
    arrived: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    release: std::sync::Arc<tokio::sync::Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

impl StuckReceiver {
    async fn start() -> StuckReceiver {
        use std::sync::{Arc, atomic::Ordering};
        let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let (arrived, release) = (arrived.clone(), release.clone());
                move || async move {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let _ = release.acquire().await;
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StuckReceiver { url, arrived, release, task }
    }

    fn arrived(&self) -> usize {
        self.arrived.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for StuckReceiver {
    fn drop(&mut self) {
        self.release.close();
        self.task.abort();
    }
}

async fn one_tenants_stuck_receiver_does_not_hold_up_another(backend: Backend) {
    use keyward_server::jobs::delivery::PER_ORG;
    let server = TestServer::start_with(backend, |c| c.webhook_timeout = Duration::from_secs(60)).await;
    let stuck = StuckReceiver::start().await;
    create_endpoint(&server, &server.admin_key, &stuck.url).await;
    for i in 0..20 {
        server.create_key(json!({"name": format!("a{i}")})).await;
    }
    // Organization A holds its share of slots, no more.
    let deadline = tokio::time::Instant::now() + WAIT;
    while stuck.arrived() < PER_ORG {
        assert!(tokio::time::Instant::now() < deadline, "A's deliveries started: {}", stuck.arrived());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stuck.arrived(), PER_ORG, "one organization holds at most {PER_ORG} slots");

    // Organization B's delivery goes out while all of A's are stuck.
    let (_, b_admin) = server.new_tenant("B").await;
    let b_receiver = WebhookReceiver::start(&[]).await;
    let (_, b_secret) = create_endpoint(&server, &b_admin, &b_receiver.url).await;
    let r = server.post("/v1/api-keys", &b_admin, json!({"name": "b"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let hooks = b_receiver.wait_for(1, WAIT).await;
    assert_verifies(&hooks[0], &b_secret);
    assert_eq!(stuck.arrived(), PER_ORG, "A still stuck while B was served");

    // Released, A's remaining deliveries all arrive.
    stuck.release.add_permits(1000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stuck.arrived() < 20 {
        assert!(tokio::time::Instant::now() < deadline, "A's deliveries finished: {}", stuck.arrived());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// With `webhook_proxy` set, deliveries go through it: here a receiver plays
/// the proxy and the endpoint's own port is closed.
async fn configured_proxy_carries_deliveries(backend: Backend) {
    let proxy = WebhookReceiver::start(&[]).await;
    let proxy_base = proxy.url.trim_end_matches("/hook").to_string();
    let server = TestServer::start_with(backend, |c| c.webhook_proxy = Some(SecretString(proxy_base))).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (_, secret) = create_endpoint(&server, &server.admin_key, &format!("http://127.0.0.1:{closed}/hook")).await;
    server.create_key(json!({"name": "proxied"})).await;
    let hooks = proxy.wait_for(1, WAIT).await;
    assert_eq!(hooks[0].event_type(), "api_key.created");
    assert_verifies(&hooks[0], &secret);
    server.stop().await;
}

/// Proxy variables in the server's environment are ignored: deliveries go
/// straight to the receiver although every proxy variable names a closed port.
async fn proxy_environment_is_ignored(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead_proxy = format!("http://127.0.0.1:{closed}");
    let mut env = vec![("KEYWARD_WEBHOOK_ALLOW_PRIVATE", "true"), ("KEYWARD_WEBHOOK_POLL_INTERVAL_MS", "50")];
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        env.push((name, dead_proxy.as_str()));
    }
    env.push(("NO_PROXY", ""));
    env.push(("no_proxy", ""));
    let process = ServerProcess::start(&db.url, &env).await;
    let admin = process.stdout_first_line.clone().expect("bootstrap key");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let created: Value = http
        .post(format!("{}/v1/webhook-endpoints", process.base_url))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().expect("created").to_string();
    let r = http
        .post(format!("{}/v1/api-keys", process.base_url))
        .bearer_auth(&admin)
        .json(&json!({"name": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_verifies(&receiver.wait_for(1, WAIT).await[0], &secret);
    drop(process);
    db.drop_database().await;
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(server.state.store.pool())
        .await
        .unwrap()
}

async fn retention_purges_old_rows_only(backend: Backend) {
    // No background jobs: the test runs the housekeeping pass itself (the job's
    // own first pass would race the inserts below).
    let server = TestServer::start_with(backend, |c| {
        c.background_jobs = false;
        c.usage_retention_days = Some(400);
        c.audit_retention_days = Some(90);
    })
    .await;
    let now = keyward_server::store::now_ms();
    let day = 86_400_000i64;
    // Idempotency records: 2 500 expired (more than one batch), one fresh.
    server
        .sql(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
             INSERT INTO idempotency_records (scope_hash, request_hash, status, response_body, response_headers, created_at) \
             SELECT 'old-' || CAST(i AS TEXT), 'r', 200, NULL, NULL, {} FROM n",
            now - 25 * 3_600_000
        ))
        .await;
    server
        .sql(&format!(
            "INSERT INTO idempotency_records (scope_hash, request_hash, status, response_body, response_headers, created_at) \
             VALUES ('fresh', 'r', 200, NULL, NULL, {})",
            now - 3_600_000
        ))
        .await;
    // Webhook history: an old finished delivery (and its event), an old pending one, a fresh finished one.
    let org = &server.organization_id;
    for (event, at) in [("msg_old", now - 40 * day), ("msg_old_pending", now - 40 * day), ("msg_fresh", now - day)] {
        server
            .sql(&format!(
                "INSERT INTO webhook_events (id, organization_id, event_type, payload, created_at) VALUES ('{event}', '{org}', 'api_key.created', '{{}}', {at})"
            ))
            .await;
    }
    for (id, event, status, at) in [
        ("d-old", "msg_old", "succeeded", now - 31 * day),
        ("d-old-pending", "msg_old_pending", "pending", now - 31 * day),
        ("d-fresh", "msg_fresh", "failed", now - day),
    ] {
        server
            .sql(&format!(
                "INSERT INTO webhook_deliveries (id, organization_id, event_id, event_type, endpoint_id, api_key_id, url, status, \
                 attempts, retry_step, next_attempt_at, locked_until, last_attempt_at, last_status_code, last_error, delivered_at, \
                 created_at, updated_at) VALUES ('{id}', '{org}', '{event}', 'api_key.created', NULL, NULL, 'https://x.example/h', \
                 '{status}', 1, 0, {}, NULL, NULL, NULL, NULL, NULL, {at}, {at})",
                now + 365 * day
            ))
            .await;
    }
    // Usage counters: one from 401 days ago, one from yesterday.
    for (key, hour) in [("k-old", now - 401 * day), ("k-new", now - day)] {
        let hour = hour - hour.rem_euclid(3_600_000);
        server
            .sql(&format!(
                "INSERT INTO usage_counters (key_id, hour_start, code, count) VALUES ('{key}', {hour}, 'VALID', 5)"
            ))
            .await;
    }
    // Audit events: 100 days old and 1 day old.
    for (id, at) in [("a-old", now - 100 * day), ("a-new", now - day)] {
        server
            .sql(&format!(
                "INSERT INTO audit_events (id, organization_id, actor_type, actor_id, action, target_type, target_id, ip, \
                 user_agent, request_id, created_at, changes) VALUES ('{id}', '{org}', 'system', 't', 'test', 't', 't', NULL, \
                 NULL, NULL, {at}, '{{}}')"
            ))
            .await;
    }

    keyward_server::jobs::housekeeping::run_pass(&server.state).await.expect("housekeeping pass");

    assert_eq!(count(&server, "SELECT COUNT(*) FROM idempotency_records WHERE scope_hash LIKE 'old-%'").await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM idempotency_records WHERE scope_hash = 'fresh'").await, 1);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM webhook_deliveries WHERE id = 'd-old'").await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM webhook_events WHERE id = 'msg_old'").await, 0);
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM webhook_deliveries WHERE id IN ('d-old-pending', 'd-fresh')").await,
        2
    );
    assert_eq!(
        count(&server, "SELECT COUNT(*) FROM webhook_events WHERE id IN ('msg_old_pending', 'msg_fresh')").await,
        2
    );
    assert_eq!(count(&server, "SELECT COUNT(*) FROM usage_counters WHERE key_id = 'k-old'").await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM usage_counters WHERE key_id = 'k-new'").await, 1);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM audit_events WHERE id = 'a-old'").await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) FROM audit_events WHERE id = 'a-new'").await, 1);

    // Audit retention unset: audit events are kept for ever.
    let server = server.restart_with(|c| c.audit_retention_days = None).await;
    server
        .sql(&format!(
            "INSERT INTO audit_events (id, organization_id, actor_type, actor_id, action, target_type, target_id, ip, user_agent, \
             request_id, created_at, changes) VALUES ('a-ancient', '{}', 'system', 't', 'test', 't', 't', NULL, NULL, NULL, 1, '{{}}')",
            server.organization_id
        ))
        .await;
    keyward_server::jobs::housekeeping::run_pass(&server.state).await.unwrap();
    assert_eq!(count(&server, "SELECT COUNT(*) FROM audit_events WHERE id = 'a-ancient'").await, 1);
    server.stop().await;
}

backend_tests!(
    raw_database_holds_no_webhook_secret,
    plaintext_rows_are_sealed_at_start,
    rotating_the_secrets_key_reseals_rows,
    no_key_refuses_once_secrets_exist,
    sqlite_key_file,
    endpoints_per_organization_are_capped,
    one_tenants_stuck_receiver_does_not_hold_up_another,
    configured_proxy_carries_deliveries,
    proxy_environment_is_ignored,
    retention_purges_old_rows_only,
);
