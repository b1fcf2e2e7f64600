//! The Rust SDK's key-hygiene surface end to end (every backend): webhook
//! endpoints, deliveries and the organization's signing secret, key import by
//! SHA-256, and the projects' `expiry_warning_days` / `leak_policy`, driven
//! only through `keyward::Client`. Deliveries go to a loopback receiver in
//! the test, which checks their signatures with `keyward::webhooks`. Every
//! wait is bounded; only 127.0.0.1 is used.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use crate::support::proxy::{Proxy, Step};
use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::TryStreamExt;
use keyward::types::{
    CreateApiKeyRequest, CreateProjectRequest, CreateWebhookEndpointRequest, ImportedApiKey, KeySource, LeakPolicy,
    UpdateProjectRequest, UpdateWebhookEndpointRequest, VerifyCode, WebhookDelivery, WebhookDeliveryStatus,
    WebhookEventType,
};
use keyward::webhooks::{self, WebhookError};
use keyward::{Client, Error, ListApiKeys, ListProjects, ListWebhookDeliveries, ListWebhookEndpoints, Uuid};
use keyward_tests::{Backend, TestServer, backend_tests};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

/// No single test may take longer than this, whatever goes wrong.
const TEST_DEADLINE: Duration = Duration::from_secs(120);
/// How long a delivery may take to arrive or settle.
const DELIVERY_WAIT: Duration = Duration::from_secs(20);

/// A foreign-format key (not keyward's `{prefix}_{env}_…` with its checksum)
/// and its SHA-256, computed independently (`printf %s … | sha256sum`).
const LEGACY_KEY: &str = "sk_live_legacyABCDEFGH12345678";
const LEGACY_KEY_SHA256: &str = "01877dfb9947a6fc1b439806776d685749ffa5b9ff31e76c2fd7e9b7e4aea04a";

async fn within_deadline<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_DEADLINE, test).await.expect("test exceeded its deadline")
}

/// A server that may deliver to the loopback receiver, polls its outbox
/// often, and dead-letters a delivery after its first failed attempt.
async fn start(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.webhook_allow_private = true;
        config.webhook_poll_interval = Duration::from_millis(50);
        config.webhook_retry_delays = Vec::new();
    })
    .await
}

fn sdk(base_url: &str, api_key: &str) -> Client {
    Client::builder().api_key(api_key).base_url(base_url).build().expect("client config is valid")
}

fn new_key(name: &str) -> CreateApiKeyRequest {
    CreateApiKeyRequest::builder().name(name).try_into().expect("name is the only required field")
}

fn endpoint(url: &str, event_types: Option<Vec<WebhookEventType>>) -> CreateWebhookEndpointRequest {
    CreateWebhookEndpointRequest { url: url.into(), description: None, event_types, is_active: None }
}

fn imported(name: &str, key_hash: &str, key_prefix: &str) -> ImportedApiKey {
    ImportedApiKey {
        key_hash: key_hash.into(),
        key_prefix: key_prefix.into(),
        last4: None,
        name: name.into(),
        allowed_ips: None,
        environment: None,
        expires_at: None,
        meta: None,
        project_id: None,
        rate_limit: None,
        scopes: None,
        usage_limit: None,
    }
}

/// Asserts a refusal naming `field`: the client's own, before sending, for a
/// bound the spec declares (`` `field` must … ``), or else the server's 400
/// (`invalid_request`, `field: …`) for a rule only the server knows.
fn assert_bad_field(result: Result<impl std::fmt::Debug, Error>, field: &str) -> Error {
    let error = result.expect_err("the call fails");
    assert!(error.is_bad_request(), "{error:?}");
    let message = error.message().unwrap_or_default();
    match &error {
        Error::InvalidArgument(_) => assert!(message.starts_with(&format!("`{field}` ")), "names `{field}`: {error:?}"),
        _ => {
            assert!(matches!(error, Error::Api { status: 400, .. }), "{error:?}");
            assert_eq!(error.code(), Some("invalid_request"), "{error:?}");
            assert!(message.starts_with(&format!("{field}:")), "names `{field}`: {error:?}");
        }
    }
    error
}

/// How verify answers a key it does not know: a string not in keyward's
/// format that matches no imported hash is `MALFORMED`, one in the format
/// `NOT_FOUND`.
fn unknown(code: &VerifyCode) -> bool {
    matches!(code, VerifyCode::Malformed | VerifyCode::NotFound)
}

async fn verify_code(client: &Client, key: &str) -> VerifyCode {
    client.keys().verify_key(key).await.expect("verify answers").code
}

// ---------------------------------------------------------------------------
// A loopback webhook receiver
// ---------------------------------------------------------------------------

/// One POST the receiver got.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("delivery without `{name}`: {self:?}"))
    }
}

/// Records every request and answers with a status the test can change.
struct Receiver {
    base_url: String,
    answer: Arc<AtomicU16>,
    received: Mutex<mpsc::UnboundedReceiver<Received>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let (sender, received) = mpsc::unbounded_channel();
        let answer = Arc::new(AtomicU16::new(204));
        let state = (sender, Arc::clone(&answer));
        let app = Router::new().fallback(record).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let base_url = format!("http://{}", listener.local_addr().expect("receiver address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { base_url, answer, received: Mutex::new(received), task }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Answer every following delivery with `status`.
    fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    /// The next delivery, waiting at most [`DELIVERY_WAIT`].
    async fn next(&self) -> Received {
        tokio::time::timeout(DELIVERY_WAIT, self.received.lock().await.recv())
            .await
            .expect("a delivery arrives in time")
            .expect("receiver is running")
    }

    /// Whether nothing more arrives within `quiet`.
    async fn stays_quiet(&self, quiet: Duration) -> bool {
        tokio::time::timeout(quiet, self.received.lock().await.recv()).await.is_err()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type ReceiverState = (mpsc::UnboundedSender<Received>, Arc<AtomicU16>);

async fn record(State((sender, answer)): State<ReceiverState>, request: Request) -> StatusCode {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let _ = sender.send(Received { path: parts.uri.path().to_string(), headers: parts.headers, body });
    StatusCode::from_u16(answer.load(Ordering::SeqCst)).expect("a valid status")
}

/// Polls `id` until it is no longer pending.
async fn settled(client: &Client, id: Uuid) -> WebhookDelivery {
    let started = tokio::time::Instant::now();
    loop {
        let delivery = client.webhook_deliveries().get(id).await.expect("get delivery");
        if delivery.status != WebhookDeliveryStatus::Pending {
            return delivery;
        }
        assert!(started.elapsed() < DELIVERY_WAIT, "delivery {id} still pending: {delivery:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every delivery matching `params`, through the stream.
async fn deliveries(client: &Client, params: ListWebhookDeliveries) -> Vec<WebhookDelivery> {
    client.webhook_deliveries().list(params).try_collect().await.expect("list deliveries")
}

// ---------------------------------------------------------------------------
// Webhook endpoints
// ---------------------------------------------------------------------------

async fn endpoint_lifecycle(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let endpoints = client.webhook_endpoints();

        let created = endpoints
            .create(CreateWebhookEndpointRequest {
                url: "http://127.0.0.1:9/ops".into(),
                description: Some("key events to ops".into()),
                event_types: Some(vec![WebhookEventType::ApiKeyRotated, WebhookEventType::ApiKeyLeaked]),
                is_active: None,
            })
            .await
            .expect("create endpoint");
        let secret = created.secret.expose().to_string();
        assert!(secret.starts_with("whsec_") && secret.len() > 40, "a whsec_ secret");
        assert!(webhooks::Webhook::new(&secret).is_ok(), "the secret is usable for verification");
        assert_eq!(format!("{:?}", created.secret), "Secret(\"whsec_…\")");
        assert_eq!(created.secret.to_string(), "whsec_…");
        let printed = format!("{created:?}");
        assert!(!printed.contains(&secret[6..]), "Debug of a created endpoint leaks the secret: {printed}");
        let first = created;
        assert_eq!(first.url, "http://127.0.0.1:9/ops");
        assert_eq!(first.description.as_deref(), Some("key events to ops"));
        assert_eq!(first.event_types, vec![WebhookEventType::ApiKeyRotated, WebhookEventType::ApiKeyLeaked]);
        assert!(first.is_active);
        assert_eq!(first.organization_id.to_string(), server.organization_id);

        // Get shows the endpoint, never the secret again.
        let fetched = endpoints.get(first.id).await.expect("get endpoint");
        assert_eq!(
            (fetched.id, &fetched.url, &fetched.description, &fetched.event_types, fetched.is_active),
            (first.id, &first.url, &first.description, &first.event_types, first.is_active)
        );
        let raw = server.get(&format!("/v1/webhook-endpoints/{}", first.id), &server.admin_key).await;
        assert!(raw.body.get("secret").is_none(), "{}", raw.body);

        // Newest first, across pages.
        let second = endpoints.create(endpoint("http://127.0.0.1:9/all", None)).await.expect("create second endpoint");
        assert_eq!(second.event_types, vec![], "no filter: every event");
        let page = endpoints
            .list_page(ListWebhookEndpoints { limit: Some(1), ..Default::default() })
            .await
            .expect("list page");
        assert_eq!(page.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second.id]);
        assert_eq!(page.next_cursor, Some(second.id.to_string()));
        let rest = endpoints
            .list_page(ListWebhookEndpoints { limit: Some(1), starting_after: Some(second.id) })
            .await
            .expect("second page");
        assert_eq!(rest.items.iter().map(|e| e.id).collect::<Vec<_>>(), vec![first.id]);
        let all: Vec<_> = endpoints
            .list(ListWebhookEndpoints { limit: Some(1), ..Default::default() })
            .try_collect()
            .await
            .expect("list stream");
        assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second.id, first.id]);

        // Update: only the fields given change; `[]` means every event.
        let updated = endpoints
            .update(
                first.id,
                UpdateWebhookEndpointRequest {
                    description: Some(Some("rotations only".into())),
                    event_types: Some(vec![WebhookEventType::ApiKeyRotated]),
                    is_active: Some(false),
                    url: None,
                },
            )
            .await
            .expect("update endpoint");
        assert_eq!(updated.description.as_deref(), Some("rotations only"));
        assert_eq!(updated.event_types, vec![WebhookEventType::ApiKeyRotated]);
        assert!(!updated.is_active);
        assert_eq!(updated.url, first.url, "url untouched");
        let widened = endpoints
            .update(
                first.id,
                UpdateWebhookEndpointRequest {
                    event_types: Some(vec![]),
                    url: Some("http://127.0.0.1:9/ops/v2".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("update filter and url");
        assert_eq!(widened.event_types, vec![]);
        assert_eq!(widened.url, "http://127.0.0.1:9/ops/v2");
        assert_eq!(widened.description.as_deref(), Some("rotations only"), "description untouched");
        // `Some(None)` sends `null`, which clears a clearable field.
        let cleared = endpoints
            .update(first.id, UpdateWebhookEndpointRequest { description: Some(None), ..Default::default() })
            .await
            .expect("clear the description");
        assert_eq!(cleared.description, None, "null clears the description");
        assert_eq!(cleared.url, widened.url, "url untouched by the clear");
        assert_eq!(endpoints.get(first.id).await.expect("get").event_types, vec![]);

        // Rotating the secret: a new one, shown once, masked; same endpoint.
        let rotated = endpoints.rotate_secret(first.id).await.expect("rotate secret");
        assert_eq!(rotated.id, first.id);
        assert!(rotated.secret.expose().starts_with("whsec_"));
        assert_ne!(rotated.secret.expose(), secret);
        assert!(!format!("{rotated:?}").contains(&rotated.secret.expose()[6..]));

        // Another tenant sees none of it.
        let (_, other_admin) = server.new_tenant("Other").await;
        let other = sdk(&server.base_url, &other_admin);
        assert!(other.webhook_endpoints().get(first.id).await.unwrap_err().is_not_found());
        let theirs: Vec<_> = other
            .webhook_endpoints()
            .list(ListWebhookEndpoints::default())
            .try_collect()
            .await
            .expect("list as another tenant");
        assert_eq!(theirs, vec![]);

        // A project key may not manage webhooks.
        let project = client
            .projects()
            .create(CreateProjectRequest::builder().name("p").try_into().expect("valid"))
            .await
            .expect("project");
        let project_key = client
            .api_keys()
            .create(
                serde_json::from_value(json!({"name": "project key", "project_id": project.id, "scopes": ["*"]}))
                    .expect("valid request"),
            )
            .await
            .expect("project key");
        let scoped = sdk(&server.base_url, project_key.key.expose());
        let denied = scoped.webhook_endpoints().list_page(ListWebhookEndpoints::default()).await;
        assert!(denied.unwrap_err().is_permission_denied());

        // Delete: gone from get and list; deleting again is 404.
        endpoints.delete(first.id).await.expect("delete");
        assert!(endpoints.get(first.id).await.unwrap_err().is_not_found());
        assert!(endpoints.delete(first.id).await.unwrap_err().is_not_found());
        assert!(endpoints.rotate_secret(first.id).await.unwrap_err().is_not_found());
        let left: Vec<_> = endpoints.list(ListWebhookEndpoints::default()).try_collect().await.expect("list");
        assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second.id]);
        server.stop().await;
    })
    .await
}

/// Stands in for a server one release behind the SDK: it forwards to
/// `upstream`, but renames event type `known` to `unknown` in request bodies
/// and query strings on the way, so the server sees an event type it does
/// not know. (The typed SDK cannot send an unknown one itself.)
async fn start_skewed_proxy(
    upstream: String,
    known: &'static str,
    unknown: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    type Renaming = (String, &'static str, &'static str);
    async fn forward(State((upstream, known, unknown)): State<Renaming>, request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
        let body = String::from_utf8_lossy(&body).replace(known, unknown);
        let path = parts.uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/").replace(known, unknown);
        let mut request = reqwest::Client::new().request(parts.method.clone(), format!("{upstream}{path}"));
        for (name, value) in &parts.headers {
            if name != "host" && name != "content-length" {
                request = request.header(name, value);
            }
        }
        let answer = request.body(body).send().await.expect("the test server answers");
        let mut response = Response::builder().status(answer.status().as_u16());
        for (name, value) in answer.headers() {
            if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                response = response.header(name.as_str(), value.as_bytes());
            }
        }
        response.body(Body::from(answer.bytes().await.unwrap_or_default())).expect("a valid response")
    }
    let app = Router::new().fallback(forward).with_state((upstream, known, unknown));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the skewed proxy");
    let base_url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base_url, task)
}

async fn validation_errors_name_the_field(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let endpoints = client.webhook_endpoints();

        // The event filter is typed: an unknown event type cannot be built,
        // whether in Rust or from JSON as the bindings pass it.
        assert!("api_key.deleted".parse::<WebhookEventType>().is_err());
        assert_eq!(
            "api_key.usage_exceeded".parse::<WebhookEventType>().ok(),
            Some(WebhookEventType::ApiKeyUsageExceeded)
        );
        let from_json = keyward::enums::from_caller_value::<CreateWebhookEndpointRequest>(
            json!({"url": "http://127.0.0.1:9/x", "event_types": ["api_key.deleted"]}),
        );
        assert!(from_json.is_err(), "{from_json:?}");
        // A response is read leniently instead: a newer server's event type is kept as received.
        let from_server = serde_json::from_value::<CreateWebhookEndpointRequest>(
            json!({"url": "http://127.0.0.1:9/x", "event_types": ["api_key.deleted"]}),
        )
        .expect("decodes");
        assert_eq!(from_server.event_types, Some(vec![WebhookEventType::Unknown("api_key.deleted".into())]));

        // A server that does not know an event type the SDK sends answers 400
        // naming the field; the facade surfaces it as a typed BadRequest.
        let (skewed_url, skewed) =
            start_skewed_proxy(server.base_url.clone(), "api_key.usage_exceeded", "api_key.deleted").await;
        let skewed_client = sdk(&skewed_url, &server.admin_key);
        let create = skewed_client
            .webhook_endpoints()
            .create(endpoint(
                "http://127.0.0.1:9/x",
                Some(vec![WebhookEventType::ApiKeyCreated, WebhookEventType::ApiKeyUsageExceeded]),
            ))
            .await;
        let error = assert_bad_field(create, "event_types[1]");
        assert!(error.message().unwrap_or_default().contains("api_key.deleted"), "{error:?}");
        assert!(error.request_id().is_some(), "{error:?}");
        let created = endpoints.create(endpoint("http://127.0.0.1:9/x", None)).await.expect("create");
        let update = skewed_client
            .webhook_endpoints()
            .update(
                created.id,
                UpdateWebhookEndpointRequest {
                    event_types: Some(vec![WebhookEventType::ApiKeyUsageExceeded]),
                    ..Default::default()
                },
            )
            .await;
        assert_bad_field(update, "event_types[0]");
        let filter = skewed_client
            .webhook_deliveries()
            .list_page(ListWebhookDeliveries {
                event_type: Some(WebhookEventType::ApiKeyUsageExceeded),
                ..Default::default()
            })
            .await;
        assert_bad_field(filter, "event_type");
        skewed.abort();
        // Nothing changed.
        assert_eq!(endpoints.get(created.id).await.expect("get").event_types, vec![]);
        let all: Vec<_> = endpoints.list(Default::default()).try_collect().await.expect("list");
        assert_eq!(all.len(), 1, "the rejected create stored nothing");

        // The server's own field checks.
        assert_bad_field(endpoints.create(endpoint("ftp://127.0.0.1/x", None)).await, "url");
        assert_bad_field(endpoints.create(endpoint("/relative/path", None)).await, "url");
        let long = CreateWebhookEndpointRequest {
            description: Some("d".repeat(501)),
            ..endpoint("http://127.0.0.1:9/x", None)
        };
        assert_bad_field(endpoints.create(long).await, "description");
        let bad_url = UpdateWebhookEndpointRequest { url: Some("not a url".into()), ..Default::default() };
        assert_bad_field(endpoints.update(created.id, bad_url).await, "url");
        assert_bad_field(
            endpoints.list_page(ListWebhookEndpoints { limit: Some(0), ..Default::default() }).await,
            "limit",
        );
        assert_bad_field(
            client
                .webhook_deliveries()
                .list_page(ListWebhookDeliveries { limit: Some(201), ..Default::default() })
                .await,
            "limit",
        );
        // A limit beyond the spec's bound fails before any request.
        let huge = endpoints.list_page(ListWebhookEndpoints { limit: Some(u32::MAX), ..Default::default() }).await;
        assert!(matches!(huge, Err(Error::InvalidArgument(_))), "{huge:?}");

        // Unknown ids are 404s, also for deliveries.
        let nobody = Uuid::now_v7();
        assert!(endpoints.get(nobody).await.unwrap_err().is_not_found());
        assert!(endpoints.update(nobody, Default::default()).await.unwrap_err().is_not_found());
        assert!(client.webhook_deliveries().get(nobody).await.unwrap_err().is_not_found());
        assert!(client.webhook_deliveries().redeliver(nobody).await.unwrap_err().is_not_found());
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------------

async fn deliveries_are_signed_listed_and_redelivered(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let receiver = Receiver::start().await;
        let client = sdk(&server.base_url, &server.admin_key);
        let created = client
            .webhook_endpoints()
            .create(endpoint(
                &receiver.url("/hooks"),
                Some(vec![WebhookEventType::ApiKeyCreated, WebhookEventType::ApiKeyRevoked]),
            ))
            .await
            .expect("create endpoint");
        let endpoint_id = created.id;
        let secret = created.secret;

        // Creating a key queues `api_key.created`; it arrives signed.
        let key = client.api_keys().create(new_key("watched")).await.expect("create key");
        let arrived = receiver.next().await;
        assert_eq!(arrived.path, "/hooks");
        assert_eq!(arrived.header("content-type"), "application/json");
        assert!(arrived.header(webhooks::SIGNATURE_HEADER).starts_with("v1,"));
        let event = webhooks::verify(&arrived.body, &arrived.headers, secret.expose()).expect("a valid signature");
        assert_eq!(event["type"], "api_key.created");
        assert_eq!(event["data"]["api_key"]["id"], json!(key.id));
        assert!(event["data"]["api_key"].get("key").is_none(), "no plaintext in events: {event}");
        let forged = webhooks::verify(&arrived.body, &arrived.headers, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(forged, Err(WebhookError::NoMatchingSignature));

        // The delivery, as listed and fetched.
        let for_endpoint = ListWebhookDeliveries { endpoint_id: Some(endpoint_id), ..Default::default() };
        let listed = deliveries(&client, for_endpoint.clone()).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        let delivery = settled(&client, listed[0].id).await;
        assert_eq!(delivery.status, WebhookDeliveryStatus::Succeeded, "{delivery:?}");
        assert_eq!(delivery.event_type, WebhookEventType::ApiKeyCreated);
        assert_eq!(delivery.endpoint_id, Some(endpoint_id));
        assert_eq!(delivery.api_key_id, None);
        assert_eq!(delivery.event_id, arrived.header(webhooks::ID_HEADER));
        assert_eq!(delivery.url, receiver.url("/hooks"));
        assert_eq!((delivery.attempts, delivery.last_status_code), (1, Some(204)));
        assert!(delivery.delivered_at.is_some() && delivery.last_error.is_none(), "{delivery:?}");
        assert_eq!(Value::Object(delivery.payload.clone()), event, "payload is the signed body");

        // Filters: by event type, by status; the endpoint's filter keeps
        // `api_key.updated` away.
        client
            .api_keys()
            .update(key.id, keyward::types::UpdateApiKeyRequest { name: Some("renamed".into()), ..Default::default() })
            .await
            .expect("update key");
        let updated_events =
            ListWebhookDeliveries { event_type: Some(WebhookEventType::ApiKeyUpdated), ..for_endpoint.clone() };
        assert_eq!(deliveries(&client, updated_events).await, vec![]);
        let created_events = ListWebhookDeliveries {
            event_type: Some(WebhookEventType::ApiKeyCreated),
            status: Some(WebhookDeliveryStatus::Succeeded),
            ..for_endpoint.clone()
        };
        assert_eq!(
            deliveries(&client, created_events).await.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![delivery.id]
        );
        let failed = ListWebhookDeliveries { status: Some(WebhookDeliveryStatus::Failed), ..Default::default() };
        assert_eq!(deliveries(&client, failed).await, vec![]);

        // Revoking delivers too; pages hold the newest first.
        client.api_keys().revoke(key.id).await.expect("revoke");
        let revoked = receiver.next().await;
        let revoked_event = webhooks::verify(&revoked.body, &revoked.headers, secret.expose()).expect("signed");
        assert_eq!(revoked_event["type"], "api_key.revoked");
        let page = client
            .webhook_deliveries()
            .list_page(ListWebhookDeliveries { limit: Some(1), ..for_endpoint.clone() })
            .await
            .expect("list page");
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].event_type, WebhookEventType::ApiKeyRevoked);
        assert!(page.has_more());
        let all = deliveries(&client, ListWebhookDeliveries { limit: Some(1), ..for_endpoint.clone() }).await;
        assert_eq!(
            all.iter().map(|d| d.event_type.clone()).collect::<Vec<_>>(),
            vec![WebhookEventType::ApiKeyRevoked, WebhookEventType::ApiKeyCreated]
        );

        // Redelivery after a secret rotation: same webhook-id, new signature.
        let rotated = client.webhook_endpoints().rotate_secret(endpoint_id).await.expect("rotate secret");
        let queued = client.webhook_deliveries().redeliver(delivery.id).await.expect("redeliver");
        assert_eq!((queued.id, queued.event_id.as_str()), (delivery.id, delivery.event_id.as_str()));
        let again = receiver.next().await;
        assert_eq!(again.header(webhooks::ID_HEADER), delivery.event_id);
        assert_eq!(again.body, arrived.body, "the same event body");
        let replayed = webhooks::verify(&again.body, &again.headers, rotated.secret.expose()).expect("new secret");
        assert_eq!(replayed, event);
        assert_eq!(
            webhooks::verify(&again.body, &again.headers, secret.expose()),
            Err(WebhookError::NoMatchingSignature),
            "the old secret no longer signs"
        );
        let redelivered = settled(&client, delivery.id).await;
        assert_eq!(redelivered.status, WebhookDeliveryStatus::Succeeded);
        assert_eq!(redelivered.attempts, 2, "{redelivered:?}");

        // A paused endpoint gets nothing queued.
        client
            .webhook_endpoints()
            .update(endpoint_id, UpdateWebhookEndpointRequest { is_active: Some(false), ..Default::default() })
            .await
            .expect("pause");
        client.api_keys().create(new_key("unwatched")).await.expect("create key");
        assert!(receiver.stays_quiet(Duration::from_millis(500)).await, "a paused endpoint got a delivery");
        assert_eq!(deliveries(&client, for_endpoint).await.len(), 2);
        server.stop().await;
    })
    .await
}

async fn dead_letters_are_redelivered(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let receiver = Receiver::start().await;
        receiver.answer_with(500);
        let client = sdk(&server.base_url, &server.admin_key);
        let created =
            client.webhook_endpoints().create(endpoint(&receiver.url("/flaky"), None)).await.expect("create endpoint");
        client.api_keys().create(new_key("k")).await.expect("create key");
        let first = receiver.next().await;

        // The only attempt failed and the test server retries none: dead-lettered.
        let failed_filter = ListWebhookDeliveries {
            status: Some(WebhookDeliveryStatus::Failed),
            endpoint_id: Some(created.id),
            ..Default::default()
        };
        let for_endpoint = ListWebhookDeliveries { endpoint_id: Some(created.id), ..Default::default() };
        let listed = deliveries(&client, for_endpoint).await;
        assert_eq!(listed.len(), 1);
        let dead = settled(&client, listed[0].id).await;
        assert_eq!(dead.status, WebhookDeliveryStatus::Failed, "{dead:?}");
        assert_eq!((dead.attempts, dead.last_status_code), (1, Some(500)));
        assert!(dead.last_error.as_deref().unwrap_or_default().contains("500"), "{dead:?}");
        assert!(dead.delivered_at.is_none() && dead.next_attempt_at.is_none(), "{dead:?}");
        assert_eq!(
            deliveries(&client, failed_filter.clone()).await.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![dead.id]
        );

        // The receiver recovers; a redelivery succeeds.
        receiver.answer_with(200);
        let queued = client.webhook_deliveries().redeliver(dead.id).await.expect("redeliver");
        assert_eq!(queued.status, WebhookDeliveryStatus::Pending, "queued again: {queued:?}");
        let second = receiver.next().await;
        assert_eq!(second.header(webhooks::ID_HEADER), first.header(webhooks::ID_HEADER));
        webhooks::verify(&second.body, &second.headers, created.secret.expose()).expect("signed");
        let delivered = settled(&client, dead.id).await;
        assert_eq!(delivered.status, WebhookDeliveryStatus::Succeeded, "{delivered:?}");
        assert_eq!((delivered.attempts, delivered.last_status_code), (2, Some(200)));
        assert_eq!(deliveries(&client, failed_filter).await, vec![]);
        server.stop().await;
    })
    .await
}

async fn rotation_webhooks_use_the_signing_secret(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let receiver = Receiver::start().await;
        let client = sdk(&server.base_url, &server.admin_key);

        let signing_secret = client.webhook_signing_secret().rotate().await.expect("rotate signing secret");
        assert!(signing_secret.secret.expose().starts_with("whsec_"));
        assert_eq!(format!("{signing_secret:?}"), "WebhookSigningSecret { secret: Secret(\"whsec_…\") }");
        let key = client
            .api_keys()
            .create(
                serde_json::from_value(json!({"name": "rotating", "rotation_webhook_url": receiver.url("/rotation")}))
                    .expect("valid request"),
            )
            .await
            .expect("create key");
        assert_eq!(key.rotation_webhook_url.as_deref(), Some(receiver.url("/rotation").as_str()));
        let rotated = client.api_keys().rotate(key.id, None).await.expect("rotate key");

        let arrived = receiver.next().await;
        assert_eq!(arrived.path, "/rotation");
        let event = webhooks::verify(&arrived.body, &arrived.headers, signing_secret.secret.expose()).expect("signed");
        assert_eq!(event["type"], "api_key.rotated");
        assert_eq!(event["data"]["api_key"]["id"], json!(key.id));
        assert_eq!(event["data"]["new_api_key"]["id"], json!(rotated.new_key_id));

        let for_key = ListWebhookDeliveries { api_key_id: Some(key.id), ..Default::default() };
        let listed = deliveries(&client, for_key).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].endpoint_id, None);
        assert_eq!(listed[0].event_type, WebhookEventType::ApiKeyRotated);
        assert_eq!(settled(&client, listed[0].id).await.status, WebhookDeliveryStatus::Succeeded);

        // Each rotation shows a new secret; deliveries switch to it at once.
        let next_secret = client.webhook_signing_secret().rotate().await.expect("rotate again");
        assert_ne!(next_secret.secret.expose(), signing_secret.secret.expose());
        client.webhook_deliveries().redeliver(listed[0].id).await.expect("redeliver");
        let again = receiver.next().await;
        webhooks::verify(&again.body, &again.headers, next_secret.secret.expose()).expect("signed with the new secret");
        assert_eq!(
            webhooks::verify(&again.body, &again.headers, signing_secret.secret.expose()),
            Err(WebhookError::NoMatchingSignature)
        );
        server.stop().await;
    })
    .await
}

async fn mutating_webhook_posts_send_idempotency_keys(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let receiver = Receiver::start().await;
        // The server creates the endpoint, but the client only sees a 503 and retries.
        let proxy = Proxy::start(&server.base_url, [Step::ForwardThenFail { status: 503 }]).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        let created = client
            .webhook_endpoints()
            .create(endpoint(&receiver.url("/once"), None))
            .await
            .expect("create through a lossy proxy");
        let posts = proxy.seen_on("POST", "/v1/webhook-endpoints");
        assert_eq!(posts.len(), 2, "{posts:?}");
        assert!(posts[0].idempotency_key.is_some());
        assert_eq!(posts[0].idempotency_key, posts[1].idempotency_key, "the retry reuses the key");
        assert!(posts[1].replayed, "the server replayed the first response");
        let all: Vec<_> = client.webhook_endpoints().list(Default::default()).try_collect().await.expect("list");
        assert_eq!(all.len(), 1, "exactly one endpoint was created");

        // The replayed secret is the one the endpoint signs with.
        client.api_keys().create(new_key("k")).await.expect("create key");
        let arrived = receiver.next().await;
        webhooks::verify(&arrived.body, &arrived.headers, created.secret.expose()).expect("replayed secret signs");

        // Every other mutating POST of the surface carries a key too.
        let delivery = deliveries(&client, ListWebhookDeliveries::default()).await.remove(0);
        client.webhook_deliveries().redeliver(delivery.id).await.expect("redeliver");
        client.webhook_endpoints().rotate_secret(created.id).await.expect("rotate secret");
        client.webhook_signing_secret().rotate().await.expect("rotate signing secret");
        client
            .api_keys()
            .import(keyward::types::ImportApiKeysRequest {
                keys: vec![imported("legacy", &keyward::key_hash("sk_live_other"), "sk_live_othe")],
            })
            .await
            .expect("import");
        client
            .webhook_endpoints()
            .update(created.id, UpdateWebhookEndpointRequest { is_active: Some(false), ..Default::default() })
            .await
            .expect("update");
        for seen in proxy.seen() {
            let expects_key = seen.method == "POST";
            assert_eq!(seen.idempotency_key.is_some(), expects_key, "{seen:?}");
        }
        let keys: Vec<_> = proxy.seen().into_iter().filter_map(|s| s.idempotency_key).collect();
        assert_eq!(keys.len(), 7, "2 endpoint creates, key create, redeliver, rotate, signing secret, import");
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 6, "one key per call: {keys:?}");
        proxy.stop().await;
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// Key import
// ---------------------------------------------------------------------------

async fn import_keys_by_hash(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);

        // The SDK's helper, the server's hashing and an independent digest agree.
        assert_eq!(keyward::key_hash(LEGACY_KEY), LEGACY_KEY_SHA256);
        assert_eq!(keyward_server::keyfmt::hash_key(LEGACY_KEY), LEGACY_KEY_SHA256);

        // Unknown until imported (and a cached "unknown" must not stick).
        let before = verify_code(&client, LEGACY_KEY).await;
        assert!(unknown(&before), "{before:?}");

        let mut legacy = imported("legacy billing key", LEGACY_KEY_SHA256, "sk_live_lega");
        legacy.last4 = Some("5678".into());
        legacy.scopes = Some(vec!["billing:read".into()]);
        legacy.meta = Some(json!({"migrated_from": "keys_v1"}).as_object().cloned().expect("an object"));
        let imported_keys = client
            .api_keys()
            .import(keyward::types::ImportApiKeysRequest { keys: vec![legacy.clone()] })
            .await
            .expect("import");
        assert_eq!(imported_keys.imported.len(), 1);
        let key = &imported_keys.imported[0];
        assert_eq!(key.source, KeySource::Import);
        assert_eq!(
            (key.name.as_str(), key.key_prefix.as_str(), key.last4.as_str()),
            ("legacy billing key", "sk_live_lega", "5678")
        );
        assert_eq!(key.scopes, vec!["billing:read".to_string()]);
        assert_eq!(key.environment, "live");
        assert_eq!(key.meta.get("migrated_from"), Some(&json!("keys_v1")));
        assert!(key.is_active);

        // It verifies as it is, with its scopes.
        let verdict = client.keys().verify_key(LEGACY_KEY).await.expect("verify");
        assert_eq!(verdict.code, VerifyCode::Valid, "{verdict:?}");
        assert!(verdict.valid);
        assert_eq!(verdict.key_id, Some(key.id));
        assert_eq!(verdict.scopes, Some(vec!["billing:read".to_string()]));
        let near_miss = verify_code(&client, "sk_live_legacyABCDEFGH12345679").await;
        assert!(unknown(&near_miss), "{near_miss:?}");

        // It lists like any key, marked as imported.
        let listed: Vec<_> = client
            .api_keys()
            .list(ListApiKeys::default())
            .try_filter(|k| futures::future::ready(k.id == key.id))
            .try_collect()
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].source, KeySource::Import);
        assert_eq!(client.api_keys().get(key.id).await.expect("get").source, KeySource::Import);

        // The same hash again is a conflict naming the item; all or nothing.
        let duplicate = client
            .api_keys()
            .import(keyward::types::ImportApiKeysRequest { keys: vec![legacy.clone()] })
            .await
            .unwrap_err();
        assert!(duplicate.is_conflict(), "{duplicate:?}");
        assert_eq!(duplicate.code(), Some("conflict"));
        assert!(duplicate.message().unwrap_or_default().starts_with("keys[0].key_hash"), "{duplicate:?}");
        let fresh = imported("fresh", &keyward::key_hash("sk_live_freshKEY000"), "sk_live_fres");
        let batch = client
            .api_keys()
            .import(keyward::types::ImportApiKeysRequest { keys: vec![fresh.clone(), legacy.clone()] })
            .await
            .unwrap_err();
        assert!(batch.is_conflict(), "{batch:?}");
        assert!(batch.message().unwrap_or_default().starts_with("keys[1].key_hash"), "{batch:?}");
        let fresh_code = verify_code(&client, "sk_live_freshKEY000").await;
        assert!(unknown(&fresh_code), "nothing of a failed batch is imported: {fresh_code:?}");

        // Invalid items are 400s naming `keys[i].field`.
        assert_bad_field(
            client
                .api_keys()
                .import(keyward::types::ImportApiKeysRequest {
                    keys: vec![imported("bad", "not-a-sha256", "sk_live_bad0")],
                })
                .await,
            "keys[0].key_hash",
        );
        assert_bad_field(
            client
                .api_keys()
                .import(keyward::types::ImportApiKeysRequest {
                    keys: vec![fresh.clone(), imported("bad", &keyward::key_hash("x"), "")],
                })
                .await,
            "keys[1].key_prefix",
        );
        assert_bad_field(client.api_keys().import(keyward::types::ImportApiKeysRequest { keys: vec![] }).await, "keys");

        // Imported keys revoke like native ones.
        client.api_keys().revoke(key.id).await.expect("revoke");
        assert_eq!(verify_code(&client, LEGACY_KEY).await, VerifyCode::Revoked);
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// Project policies
// ---------------------------------------------------------------------------

async fn project_hygiene_policies_round_trip(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let projects = client.projects();

        let plain = projects
            .create(CreateProjectRequest::builder().name("defaults").try_into().expect("valid"))
            .await
            .expect("create");
        assert_eq!((plain.expiry_warning_days, plain.leak_policy), (7, LeakPolicy::Revoke));

        let strict = projects
            .create(
                CreateProjectRequest::builder()
                    .name("billing")
                    .expiry_warning_days(Some(14))
                    .leak_policy(Some(LeakPolicy::Flag))
                    .try_into()
                    .expect("valid"),
            )
            .await
            .expect("create with policies");
        assert_eq!((strict.expiry_warning_days, strict.leak_policy), (14, LeakPolicy::Flag));
        let fetched = projects.get(strict.id).await.expect("get");
        assert_eq!((fetched.expiry_warning_days, fetched.leak_policy), (14, LeakPolicy::Flag));

        let updated = projects
            .update(
                strict.id,
                UpdateProjectRequest {
                    expiry_warning_days: Some(0),
                    leak_policy: Some(LeakPolicy::Revoke),
                    ..Default::default()
                },
            )
            .await
            .expect("update policies");
        assert_eq!((updated.expiry_warning_days, updated.leak_policy), (0, LeakPolicy::Revoke));
        let renamed = projects
            .update(strict.id, UpdateProjectRequest { name: Some("billing v2".into()), ..Default::default() })
            .await
            .expect("rename");
        assert_eq!((renamed.expiry_warning_days, renamed.leak_policy), (0, LeakPolicy::Revoke), "untouched");
        let listed: Vec<_> = projects.list(ListProjects::default()).try_collect().await.expect("list");
        let listed = listed.iter().find(|p| p.id == strict.id).expect("listed");
        assert_eq!((listed.expiry_warning_days, listed.leak_policy.clone()), (0, LeakPolicy::Revoke));

        assert_bad_field(
            projects
                .update(strict.id, UpdateProjectRequest { expiry_warning_days: Some(366), ..Default::default() })
                .await,
            "expiry_warning_days",
        );
        assert_bad_field(
            projects
                .create(
                    CreateProjectRequest::builder()
                        .name("too far")
                        .expiry_warning_days(Some(400))
                        .try_into()
                        .expect("valid"),
                )
                .await,
            "expiry_warning_days",
        );
        let unchanged = projects.get(strict.id).await.expect("get");
        assert_eq!(unchanged.expiry_warning_days, 0, "a rejected update changes nothing");
        server.stop().await;
    })
    .await
}

backend_tests!(
    endpoint_lifecycle,
    validation_errors_name_the_field,
    deliveries_are_signed_listed_and_redelivered,
    dead_letters_are_redelivered,
    rotation_webhooks_use_the_signing_secret,
    mutating_webhook_posts_send_idempotency_keys,
    import_keys_by_hash,
    project_hygiene_policies_round_trip,
);
