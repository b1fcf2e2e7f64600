//! Test harness: a real keyward server on 127.0.0.1 (in-process, on a real
//! socket) over a fresh SQLite file or a fresh Postgres database, and a small
//! HTTP helper. Suites run against every backend in [`backends()`].

use keyward_server::{AppState, Config, Store, bootstrap::bootstrap};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;
use std::{path::PathBuf, time::Duration};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; Postgres too when `KEYWARD_TEST_POSTGRES_URL` is set (CI sets it).
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        all.push(Backend::Postgres);
    }
    all
}

fn postgres_url() -> Option<String> {
    std::env::var("KEYWARD_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

/// A database of its own for one test server, so runs never collide.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("keyward.db").display());
                TestDatabase { url, _dir: Some(dir), postgres_name: None }
            }
            Backend::Postgres => {
                let admin_url = postgres_url().expect("KEYWARD_TEST_POSTGRES_URL");
                let name = format!("kw_t_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .expect("connect to KEYWARD_TEST_POSTGRES_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = reqwest::Url::parse(&admin_url).expect("KEYWARD_TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                TestDatabase { url: url.to_string(), _dir: None, postgres_name: Some(name) }
            }
        }
    }

    /// Drops a Postgres test database (SQLite files go with their temp dir).
    pub async fn drop_database(&self) {
        let (Some(name), Some(admin_url)) = (&self.postgres_name, postgres_url()) else { return };
        if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await;
        }
    }
}

/// A running server with a bootstrapped organization and its admin key.
pub struct TestServer {
    pub backend: Backend,
    pub base_url: String,
    /// Org-wide admin key, scopes `["*"]`.
    pub admin_key: String,
    pub organization_id: String,
    pub state: AppState,
    pub database: TestDatabase,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The secrets key test servers on Postgres use (base64 of 32 bytes of 0x2a);
/// SQLite ones use the `keyward.key` file beside their database.
pub const TEST_SECRETS_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// Test servers send webhooks to loopback receivers (the SSRF guard is on by
/// default; a test that checks it turns it back on), poll the outbox often and
/// retry after 100 ms instead of the 24-hour schedule.
pub fn test_config(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_string(),
        bootstrap_on_empty: false,
        webhook_allow_private: true,
        webhook_poll_interval: Duration::from_millis(50),
        webhook_retry_delays: vec![Duration::from_millis(100); 4],
        secrets_key: database_url
            .starts_with("postgres")
            .then(|| keyward_server::config::SecretString(TEST_SECRETS_KEY.to_string())),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Start with a tweaked configuration (e.g. the cache disabled).
    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestServer {
        let database = TestDatabase::create(backend).await;
        let mut config = test_config(&database.url);
        tweak(&mut config);
        let store = Store::connect(&config.database_url, config.db_max_connections).await.expect("open store");
        let made = bootstrap(&store, "Test organization").await.expect("bootstrap");
        let state = AppState::new(store, config);
        let (base_url, shutdown, task) = spawn_on_free_port(state.clone()).await;
        TestServer {
            backend,
            base_url,
            admin_key: made.admin_key,
            organization_id: made.organization.id.to_string(),
            state,
            database,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// A second tenant in the same server: a new organization and its admin key.
    pub async fn new_tenant(&self, name: &str) -> (String, String) {
        let made = bootstrap(&self.state.store, name).await.expect("bootstrap tenant");
        (made.organization.id.to_string(), made.admin_key)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A request authenticated with `key` (as `Authorization: Bearer`).
    pub async fn call(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        Response::read(request.send().await.expect("request reaches the test server")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Response {
        self.call(Method::GET, path, key, None).await
    }
    pub async fn post(&self, path: &str, key: &str, body: Value) -> Response {
        self.call(Method::POST, path, key, Some(body)).await
    }
    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Response {
        self.call(Method::PATCH, path, key, Some(body)).await
    }
    pub async fn delete(&self, path: &str, key: &str) -> Response {
        self.call(Method::DELETE, path, key, None).await
    }
    /// A request with `credential` as `Authorization: Bearer` plus extra headers.
    pub async fn call_with_headers(
        &self,
        method: Method,
        path: &str,
        credential: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(credential);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Response::read(request.send().await.expect("request reaches the test server")).await
    }

    /// A raw request builder for cases the helpers do not cover.
    pub fn raw(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Verify `key` with the admin key; returns the verify response body.
    pub async fn verify(&self, key: &str) -> Value {
        let r = self.post("/v1/keys/verify", &self.admin_key, json!({ "key": key })).await;
        assert_eq!(r.status, StatusCode::OK, "verify answered {}", r.body);
        r.body
    }

    /// Create a key with the admin key; returns the created body (with `key`).
    pub async fn create_key(&self, body: Value) -> Value {
        let r = self.post("/v1/api-keys", &self.admin_key, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "create answered {}", r.body);
        r.body
    }

    /// Stop serving (a graceful shutdown: write-behind counters are flushed)
    /// and start a new server with fresh process state (cache, rate limits)
    /// on the same database and configuration. The admin key stays valid.
    pub async fn restart(self) -> TestServer {
        self.restart_with(|_| {}).await
    }

    /// [`TestServer::restart`] with a tweaked configuration (e.g. another secrets key).
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestServer {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.state.store.close().await;
        let mut config = (*self.state.config).clone();
        tweak(&mut config);
        let store = Store::connect(&config.database_url, config.db_max_connections).await.expect("reopen store");
        let state = AppState::new(store, config);
        let (base_url, shutdown, task) = spawn_on_free_port(state.clone()).await;
        TestServer { base_url, state, shutdown: Some(shutdown), task: Some(task), ..self }
    }

    /// A second server on the same database and configuration (another
    /// replica, with its own cache and rate limits). Stop it before `self`.
    pub async fn replica(&self) -> TestServer {
        let config = (*self.state.config).clone();
        let store = Store::connect(&config.database_url, config.db_max_connections).await.expect("open replica store");
        let state = AppState::new(store, config);
        let (base_url, shutdown, task) = spawn_on_free_port(state.clone()).await;
        TestServer {
            backend: self.backend,
            base_url,
            admin_key: self.admin_key.clone(),
            organization_id: self.organization_id.clone(),
            state,
            // Not the owner: stopping the replica leaves the database alone.
            database: TestDatabase { url: self.database.url.clone(), _dir: None, postgres_name: None },
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Runs one SQL statement on the server's database (to set up a state the
    /// API cannot, such as a rotation that fell due); returns rows affected.
    pub async fn sql(&self, statement: &str) -> u64 {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(self.state.store.pool())
            .await
            .expect("test SQL statement")
            .rows_affected()
    }

    /// Stop serving, then drop the Postgres test database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.state.store.close().await;
        self.database.drop_database().await;
    }
}

async fn spawn_on_free_port(state: AppState) -> (String, oneshot::Sender<()>, JoinHandle<()>) {
    // `serve` checks and seals stored secrets before it answers; run that pass
    // here first so a test reading the database right after a (re)start sees it done.
    keyward_server::secrets::startup(&state.store, &state.secrets).await.expect("secrets start-up pass");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free loopback port");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        if let Err(err) = keyward_server::serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        {
            eprintln!("test server stopped: {err:#}");
        }
    });
    (format!("http://{addr}"), tx, task)
}

/// A response read whole: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Response {
    pub async fn read(response: reqwest::Response) -> Response {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Response { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the common error shape and returns the message.
    pub fn error_message(&self) -> &str {
        assert!(self.body["code"].is_string(), "error body has a code: {}", self.body);
        assert!(self.body["request_id"].is_string(), "error body has a request_id: {}", self.body);
        self.body["error"].as_str().expect("error body has an error message")
    }
}

// ---------------------------------------------------------------- webhook receiver

/// One request a [`WebhookReceiver`] got.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub raw_body: String,
    pub body: Value,
}

impl ReceivedWebhook {
    pub fn event_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

#[derive(Default)]
struct ReceiverState {
    /// Status codes to answer, in order; 200 once they run out.
    script: std::sync::Mutex<std::collections::VecDeque<u16>>,
    received: std::sync::Mutex<Vec<ReceivedWebhook>>,
}

/// A real HTTP webhook receiver on 127.0.0.1 that records every request and
/// answers with a scripted sequence of status codes.
pub struct WebhookReceiver {
    pub url: String,
    state: std::sync::Arc<ReceiverState>,
    task: JoinHandle<()>,
}

impl WebhookReceiver {
    /// Answers `script` in order, then 200 for ever.
    pub async fn start(script: &[u16]) -> WebhookReceiver {
        use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post};
        let state = std::sync::Arc::new(ReceiverState::default());
        state.script.lock().unwrap().extend(script.iter().copied());
        let app = axum::Router::new().route(
            "/hook",
            post(|State(st): State<std::sync::Arc<ReceiverState>>, headers: HeaderMap, body: Bytes| async move {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let raw_body = String::from_utf8_lossy(&body).into_owned();
                st.received.lock().unwrap().push(ReceivedWebhook {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                    body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
                    raw_body,
                });
                let code = st.script.lock().unwrap().pop_front().unwrap_or(200);
                axum::http::StatusCode::from_u16(code).unwrap()
            }),
        );
        let app = app.with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { url, state, task }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits (bounded by `within`) until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedWebhook> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} webhook requests within {within:?}, got {}: {:?}",
                got.len(),
                got.iter().map(|r| r.event_type().to_string()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Requests whose event type is `event_type`.
    pub fn of_type(&self, event_type: &str) -> Vec<ReceivedWebhook> {
        self.received().into_iter().filter(|r| r.event_type() == event_type).collect()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------- server processes

/// The `keyward` binary running as an operator runs it, on a free loopback
/// port, healthy. Killed (SIGKILL) when dropped.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base_url: String,
    /// What it printed on stdout before listening: the admin key, when this
    /// start bootstrapped the database.
    pub stdout_first_line: Option<String>,
}

impl ServerProcess {
    /// Starts the binary on `database_url` with `env` (`KEYWARD_LOG` defaults to
    /// `warn`; stderr is piped, see [`ServerProcess::stop_and_read_logs`]) and
    /// waits (bounded) for `/healthz`.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = std::process::Command::new(server_binary());
        command
            .args(["--listen", &format!("127.0.0.1:{port}"), "--database-url", database_url])
            .env("KEYWARD_LOG", "warn")
            .env_remove("KEYWARD_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if database_url.starts_with("postgres") && !env.iter().any(|(name, _)| *name == "KEYWARD_SECRETS_KEY") {
            command.env("KEYWARD_SECRETS_KEY", TEST_SECRETS_KEY);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn keyward");
        let base_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !http.get(format!("{base_url}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(std::time::Instant::now() < deadline, "server did not become healthy in 30 s");
            if let Some(status) = child.try_wait().unwrap() {
                panic!("server exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Anything printed on stdout was printed before the listener bound;
        // the line is in the pipe, EOF is not, so read with a bound.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let n = BufReader::new(stdout).read_line(&mut line).unwrap_or(0);
            let _ = tx.send((n > 0).then(|| line.trim().to_string()));
        });
        let stdout_first_line = rx.recv_timeout(Duration::from_millis(500)).ok().flatten();
        ServerProcess { child, base_url, stdout_first_line }
    }

    /// SIGKILL, as a crash would.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the process and returns everything it logged on stderr.
    pub fn stop_and_read_logs(mut self) -> String {
        use std::io::Read;
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut out);
        }
        out
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/debug/keyward` (or the release one when tests run in release).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile dir");
    let bin = dir.join(format!("keyward{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "keyward-server", "--bin", "keyward"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the keyward binary failed");
    }
    bin
}

/// Generates one `#[tokio::test]` per backend from an async fn taking a `Backend`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if !$crate::backends().contains(&$crate::Backend::Postgres) {
                        eprintln!("KEYWARD_TEST_POSTGRES_URL is not set: Postgres variant not run");
                        return;
                    }
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
}

/// A manual clock starting at the present: a test of expiry, grace, windows
/// or refills moves it (`clock.advance(ms)`) instead of sleeping. Give it to
/// the server with `TestServer::start_with(backend, |c| c.clock = clock.clone())`.
pub fn manual_clock() -> keyward_server::domain::time::Clock {
    keyward_server::domain::time::Clock::manual(keyward_server::store::now_ms())
}
