//! A scripted loopback proxy between the SDK and the test server: each
//! incoming request takes the next [`Step`] of the script (forward it, fail
//! it, stall it), and every request is logged so tests can count attempts and
//! compare `Idempotency-Key` headers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What the proxy does with one request.
#[derive(Debug, Clone)]
pub enum Step {
    /// Pass it to the server and its answer back.
    Forward,
    /// Answer `status` without involving the server; a plain-text body, as a
    /// load balancer would send.
    Fail { status: u16, retry_after_seconds: Option<u64> },
    /// Pass it to the server (which acts on it), but answer the client
    /// `status`, as when a response is lost on the way back.
    ForwardThenFail { status: u16 },
    /// Hold the request this long, then answer 504.
    Stall(Duration),
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// Every header of the request.
    pub headers: reqwest::header::HeaderMap,
    pub at: Instant,
    /// The server's `idempotent-replayed` header, when the request was forwarded.
    pub replayed: bool,
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<Seen>>,
}

pub struct Proxy {
    pub base_url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Largest request body the proxy buffers (the server's own limit is 64 KiB).
const MAX_BODY: usize = 1 << 20;

impl Proxy {
    /// Starts a proxy on 127.0.0.1 in front of `upstream`, following `script`
    /// and then forwarding everything.
    pub async fn start(upstream: &str, script: impl IntoIterator<Item = Step>) -> Proxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("proxy http client"),
            script: Mutex::new(script.into_iter().collect()),
            seen: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let app = Router::new().fallback(handle).with_state(Arc::clone(&shared));
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await;
        });
        Proxy { base_url: format!("http://{addr}"), shared, shutdown: Some(shutdown), task: Some(task) }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("proxy log").clone()
    }

    /// Requests seen whose path starts with `prefix`.
    pub fn seen_on(&self, method: &str, prefix: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.method == method && s.path.starts_with(prefix)).collect()
    }

    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            // Stalled connections would hold graceful shutdown; do not wait for them forever.
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                eprintln!("proxy did not stop within 5 s");
            }
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let step = shared.script.lock().expect("proxy script").pop_front().unwrap_or(Step::Forward);
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let mut seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        idempotency_key: parts.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned),
        headers: parts.headers.clone(),
        at: Instant::now(),
        replayed: false,
    };
    let response = match step {
        Step::Fail { status, retry_after_seconds } => {
            let mut response = plain(status, "upstream unavailable (test proxy)");
            if let Some(seconds) = retry_after_seconds {
                response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
            }
            response
        }
        Step::Stall(duration) => {
            shared.seen.lock().expect("proxy log").push(seen);
            tokio::time::sleep(duration).await;
            return plain(504, "stalled (test proxy)");
        }
        Step::Forward | Step::ForwardThenFail { .. } => {
            let upstream = forward(&shared, &parts, body).await;
            seen.replayed = upstream.headers().get("idempotent-replayed").is_some();
            match step {
                Step::ForwardThenFail { status } => plain(status, "response lost (test proxy)"),
                _ => upstream,
            }
        }
    };
    shared.seen.lock().expect("proxy log").push(seen);
    response
}

async fn forward(shared: &Shared, parts: &axum::http::request::Parts, body: axum::body::Bytes) -> Response {
    let path_and_query = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let mut request = shared.http.request(parts.method.clone(), format!("{}{}", shared.upstream, path_and_query));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let upstream = match request.body(body).send().await {
        Ok(upstream) => upstream,
        Err(error) => return plain(502, &format!("test proxy could not reach the server: {error}")),
    };
    let status = upstream.status();
    let headers = upstream.headers().clone();
    let body = upstream.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            response.headers_mut().append(HeaderName::from(name), value.clone());
        }
    }
    response
}

fn plain(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, message.to_string()).into_response()
}
