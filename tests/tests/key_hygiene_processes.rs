//! Key hygiene across real server processes: an event whose transaction
//! committed is delivered after a kill -9 that came before delivery, and two
//! processes sharing one database rotate each due key exactly once.

use keyward_tests::{Backend, ServerProcess, TestDatabase, WebhookReceiver, backend_tests, json};
use serde_json::Value;
use std::time::Duration;

/// A `keyward` process that delivers to loopback receivers quickly, with an HTTP client.
struct Process {
    server: ServerProcess,
    http: reqwest::Client,
}

impl Process {
    /// Starts `keyward` on `database_url` with `env`; returns it and the admin
    /// key it printed if this start bootstrapped the database.
    async fn start(database_url: &str, env: &[(&str, &str)]) -> (Process, Option<String>) {
        let mut all = vec![
            ("KEYWARD_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("KEYWARD_WEBHOOK_POLL_INTERVAL_MS", "50"),
            ("KEYWARD_WEBHOOK_RETRY_DELAYS_MS", "100,100,100"),
        ];
        all.extend_from_slice(env);
        let server = ServerProcess::start(database_url, &all).await;
        let admin = server.stdout_first_line.clone();
        (Process { server, http: reqwest::Client::new() }, admin)
    }

    async fn send(&self, method: reqwest::Method, path: &str, key: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.server.base_url)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, key, Some(body)).await
    }

    fn kill_9(self) {
        self.server.kill_9();
    }
}

async fn committed_event_is_delivered_after_kill_9(backend: Backend) {
    let db = TestDatabase::create(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    // An API-only process: events are queued, nothing is delivered.
    let (api_only, admin) = Process::start(&db.url, &[("KEYWARD_BACKGROUND_JOBS", "false")]).await;
    let admin = admin.expect("first start prints the admin key");
    let endpoint = api_only.post("/v1/webhook-endpoints", &admin, json!({"url": receiver.url})).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let created = api_only.post("/v1/api-keys", &admin, json!({"name": "survives"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty(), "not delivered before the crash");
    api_only.kill_9();

    let (worker, _) = Process::start(&db.url, &[]).await;
    let hooks = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(hooks[0].event_type(), "api_key.created");
    assert_eq!(hooks[0].body["data"]["api_key"]["id"], created["id"]);
    let headers = [
        ("webhook-id", hooks[0].id.as_str()),
        ("webhook-timestamp", hooks[0].timestamp.as_str()),
        ("webhook-signature", hooks[0].signature.as_str()),
    ];
    keyward::webhooks::verify(hooks[0].raw_body.as_bytes(), &headers, &secret)
        .expect("signed with the endpoint secret");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "delivered once");
    drop(worker);
    db.drop_database().await;
}

async fn two_processes_rotate_each_due_key_once(backend: Backend) {
    const KEYS: usize = 12;
    let db = TestDatabase::create(backend).await;
    let receiver = WebhookReceiver::start(&[]).await;
    let fast = [("KEYWARD_SCHEDULER_INTERVAL_MS", "20")];
    let (a, admin) = Process::start(&db.url, &fast).await;
    let admin = admin.expect("first start prints the admin key");
    let (b, second_admin) = Process::start(&db.url, &fast).await;
    assert_eq!(second_admin, None, "the second process does not bootstrap again");
    a.post("/v1/webhook-endpoints", &admin, json!({"url": receiver.url, "event_types": ["api_key.rotated"]})).await;
    let mut ids = Vec::new();
    for i in 0..KEYS {
        let created =
            a.post("/v1/api-keys", &admin, json!({"name": format!("k{i}"), "rotation_interval_days": 1})).await;
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    // Every key falls due at once; both schedulers race for them.
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    let due = sqlx::query("UPDATE api_keys SET next_rotation_at = 1000 WHERE rotation_interval_days = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(due.rows_affected(), KEYS as u64);

    let hooks = receiver.wait_for(KEYS, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(800)).await; // many more passes of both schedulers
    let hooks_after = receiver.received();
    assert_eq!(hooks_after.len(), KEYS, "one api_key.rotated per key");
    let mut rotated: Vec<String> =
        hooks.iter().map(|h| h.body["data"]["api_key"]["id"].as_str().unwrap().to_string()).collect();
    rotated.sort();
    ids.sort();
    assert_eq!(rotated, ids, "each key rotated exactly once");

    // The store agrees: exactly one successor per key.
    let successors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE source = 'rotation'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(successors, KEYS as i64);
    let listed = b.send(reqwest::Method::GET, "/v1/api-keys?limit=200", &admin, None).await;
    let replaced = listed.as_array().unwrap().iter().filter(|k| k["replaced_by_key_id"].is_string()).count();
    assert_eq!(replaced, KEYS);
    drop(conn);
    drop((a, b));
    db.drop_database().await;
}

backend_tests!(committed_event_is_delivered_after_kill_9, two_processes_rotate_each_due_key_once);
