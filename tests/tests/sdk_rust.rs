//! The Rust SDK (`keyward` crate) end to end: a real server per test (every
//! backend of `backends()`), driven only through `keyward::Client`. Retry
//! behaviour is checked through a scripted loopback proxy
//! (`support/proxy.rs`) that fails, stalls or forwards each request and
//! counts attempts. Every wait is bounded; only 127.0.0.1 is used.

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::proxy::{Proxy, Step};
use axum::{Json, Router, routing::get};
use futures::TryStreamExt;
use keyward::middleware::{RequireKey, VerifiedKey};
use keyward::types::{
    CreateApiKeyRequest, CreateProjectRequest, RateLimit, UpdateApiKeyRequest, UpdateProjectRequest, VerifyCode,
    VerifyKeyRequest,
};
use keyward::{Client, Error, ListApiKeys, ListOrganizationApiKeys, ListProjects, RequestOptions, Uuid};
use keyward_tests::{Backend, TestServer, backend_tests};
use serde_json::{Value, json};

/// No single test may take longer than this, whatever goes wrong.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

async fn within_deadline<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_DEADLINE, test).await.expect("test exceeded its deadline")
}

fn sdk(base_url: &str, api_key: &str) -> Client {
    Client::builder().api_key(api_key).base_url(base_url).build().expect("client config is valid")
}

fn org_id(server: &TestServer) -> Uuid {
    server.organization_id.parse().expect("organization id is a UUID")
}

fn new_key(name: &str) -> CreateApiKeyRequest {
    CreateApiKeyRequest::builder().name(name).try_into().expect("name is the only required field")
}

fn new_key_with(name: &str, fields: Value) -> CreateApiKeyRequest {
    let mut body = fields;
    body["name"] = json!(name);
    serde_json::from_value(body).expect("a valid CreateApiKeyRequest")
}

fn no_changes() -> UpdateApiKeyRequest {
    UpdateApiKeyRequest::default()
}

async fn verify_code(client: &Client, key: &str) -> VerifyCode {
    client.keys().verify_key(key).await.expect("verify answers").code
}

// ---------------------------------------------------------------------------
// Every operation
// ---------------------------------------------------------------------------

async fn key_lifecycle(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);

        let created = client
            .api_keys()
            .create(new_key_with("lifecycle", json!({"scopes": ["reports:read"], "meta": {"plan": "pro"}})))
            .await
            .expect("create");
        let plaintext = created.key.expose().to_string();
        assert!(plaintext.starts_with("kw_live_"), "{}", created.key);
        assert!(plaintext.starts_with(&created.key_prefix));
        assert!(!format!("{created:?}").contains(&plaintext), "Debug of a created key leaks the plaintext");
        assert_eq!(created.scopes, vec!["reports:read".to_string()]);
        assert_eq!(created.meta.get("plan"), Some(&json!("pro")));

        let verdict = client.keys().verify_key(&plaintext).await.expect("verify");
        assert!(verdict.valid);
        assert_eq!(verdict.key_id, Some(created.id));
        assert_eq!(verdict.organization_id, Some(org_id(&server)));

        let fetched = client.api_keys().get(created.id).await.expect("get");
        assert_eq!(fetched.id, created.id);
        assert_eq!(fetched.last4, plaintext[plaintext.len() - 4..]);

        let renamed = client
            .api_keys()
            .update(created.id, UpdateApiKeyRequest { name: Some("renamed".into()), ..no_changes() })
            .await
            .expect("update name");
        assert_eq!(renamed.name, "renamed");
        let disabled = client
            .api_keys()
            .update(created.id, UpdateApiKeyRequest { is_active: Some(false), ..no_changes() })
            .await
            .expect("disable");
        assert!(!disabled.is_active);
        assert_eq!(verify_code(&client, &plaintext).await, VerifyCode::Disabled);
        client
            .api_keys()
            .update(created.id, UpdateApiKeyRequest { is_active: Some(true), ..no_changes() })
            .await
            .expect("enable");
        assert_eq!(verify_code(&client, &plaintext).await, VerifyCode::Valid);

        let usage = client.api_keys().get_usage(created.id, keyward::GetApiKeyUsage::default()).await.expect("usage");
        assert_eq!(usage.key_id, created.id);
        assert_eq!(usage.granularity, keyward::types::Granularity::Hour);

        let regenerated = client.api_keys().regenerate(created.id).await.expect("regenerate");
        assert_eq!(regenerated.id, created.id, "regenerate keeps the id");
        assert_ne!(regenerated.key.expose(), plaintext);
        assert!(!client.keys().verify_key(&plaintext).await.expect("verify old").valid, "old secret is dead");
        let current = regenerated.key.expose().to_string();
        assert_eq!(verify_code(&client, &current).await, VerifyCode::Valid);

        let rotated = client
            .api_keys()
            .rotate(created.id, Some(keyward::types::RotateApiKeyRequest { grace_period_seconds: Some(300) }))
            .await
            .expect("rotate with grace");
        assert_eq!(rotated.old_key_id, created.id);
        assert_ne!(rotated.new_key_id, created.id);
        assert!(rotated.grace_expires_at.is_some());
        let in_grace = client.keys().verify_key(&current).await.expect("verify old in grace");
        assert!(in_grace.valid && in_grace.grace_expires_at.is_some(), "{in_grace:?}");
        assert_eq!(verify_code(&client, rotated.key.expose()).await, VerifyCode::Valid);

        let again = client.api_keys().rotate(created.id, None).await.expect_err("rotating a replaced key");
        assert!(again.is_conflict(), "{again}");

        client.api_keys().revoke(rotated.new_key_id).await.expect("revoke");
        client.api_keys().revoke(rotated.new_key_id).await.expect("revoke is idempotent");
        assert_eq!(verify_code(&client, rotated.key.expose()).await, VerifyCode::Revoked);
        let revoked = client.api_keys().get(rotated.new_key_id).await.expect("get revoked");
        assert!(revoked.revoked_at.is_some() && !revoked.is_active);

        let immediate = client.api_keys().create(new_key("rotate-now")).await.expect("create");
        let replaced = client.api_keys().rotate(immediate.id, None).await.expect("rotate without grace");
        assert!(replaced.grace_expires_at.is_none());
        assert!(!client.keys().verify_key(immediate.key.expose()).await.expect("verify").valid);
        server.stop().await;
    })
    .await
}

async fn verify_reports_scopes_and_cost(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let created = client
            .api_keys()
            .create(new_key_with("metered", json!({"scopes": ["reports:*"], "usage_limit": {"remaining": 2}})))
            .await
            .expect("create");
        let request = |scopes: &[&str], cost: Option<i64>| VerifyKeyRequest {
            key: created.key.expose().to_string(),
            ip: Some("127.0.0.1".into()),
            required_scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
            cost,
        };
        let ok = client.keys().verify(request(&["reports:read"], Some(0))).await.expect("verify");
        assert!(ok.valid && ok.remaining == Some(2), "cost 0 spends nothing: {ok:?}");
        let missing = client.keys().verify(request(&["admin"], Some(0))).await.expect("verify");
        assert_eq!(missing.code, VerifyCode::InsufficientScopes);
        let spent = client.keys().verify(request(&[], Some(2))).await.expect("verify");
        assert_eq!(spent.remaining, Some(0));
        let exhausted = client.keys().verify(request(&[], None)).await.expect("verify");
        assert_eq!(exhausted.code, VerifyCode::UsageExceeded);

        let garbage = client.keys().verify_key("not-a-key").await.expect("verify answers 200 for garbage");
        assert!(!garbage.valid);
        assert!(matches!(garbage.code, VerifyCode::Malformed | VerifyCode::NotFound), "{:?}", garbage.code);
        server.stop().await;
    })
    .await
}

async fn organization_family(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let org = org_id(&server);
        let orgs = client.organization_api_keys();

        let mut created_ids = Vec::new();
        for n in 0..3 {
            let created = orgs.create(org, new_key(&format!("org-key-{n}"))).await.expect("org create");
            assert_eq!(created.api_key.organization_id, org);
            assert_eq!(verify_code(&client, created.plaintext_api_key.expose()).await, VerifyCode::Valid);
            created_ids.push(created.api_key.id);
        }

        let first = orgs
            .list_page(org, ListOrganizationApiKeys { limit: Some(2), ..Default::default() })
            .await
            .expect("org list page");
        assert_eq!(first.items.len(), 2);
        assert!(first.has_more());

        // 3 created + the bootstrap admin key, in pages of 2.
        let everything: Vec<_> = orgs
            .list(org, ListOrganizationApiKeys { limit: Some(2), ..Default::default() })
            .try_collect()
            .await
            .expect("org list stream");
        let ids: Vec<Uuid> = everything.iter().map(|k| k.id).collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 4, "no duplicates");
        assert!(created_ids.iter().all(|id| ids.contains(id)));

        orgs.revoke(org, created_ids[0]).await.expect("org revoke");
        orgs.revoke(org, created_ids[0]).await.expect("org revoke again");
        let gone = client.api_keys().get(created_ids[0]).await.expect("get");
        assert!(gone.revoked_at.is_some());

        let elsewhere = orgs.create(Uuid::now_v7(), new_key("other org")).await.expect_err("another org");
        assert!(elsewhere.is_not_found() || elsewhere.is_permission_denied(), "{elsewhere}");
        server.stop().await;
    })
    .await
}

async fn projects(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let request: CreateProjectRequest = CreateProjectRequest::builder()
            .name("Krossover")
            .key_prefix(Some("kros".to_string()))
            .default_scopes(Some(vec!["reports:read".to_string()]))
            .try_into()
            .expect("valid project");
        let project = client.projects().create(request.clone()).await.expect("create project");
        assert_eq!(project.name, "Krossover");
        assert_eq!(project.key_prefix.as_deref(), Some("kros"));

        let duplicate = client.projects().create(request).await.expect_err("same key_prefix twice");
        assert!(duplicate.is_conflict(), "{duplicate}");

        assert_eq!(client.projects().get(project.id).await.expect("get project").id, project.id);
        let updated = client
            .projects()
            .update(project.id, UpdateProjectRequest { name: Some("Krossover Pro".into()), ..Default::default() })
            .await
            .expect("update project");
        assert_eq!(updated.name, "Krossover Pro");

        for n in 0..2 {
            let extra = CreateProjectRequest::builder().name(format!("extra {n}")).try_into().expect("valid");
            client.projects().create(extra).await.expect("create project");
        }
        let all: Vec<_> = client
            .projects()
            .list(ListProjects { limit: Some(1), ..Default::default() })
            .try_collect()
            .await
            .expect("list projects");
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all.last().map(|p| p.id), Some(project.id), "newest first");

        let key = client
            .api_keys()
            .create(new_key_with("project key", json!({"project_id": project.id})))
            .await
            .expect("create in project");
        assert!(key.key.expose().starts_with("kros_live_"), "{}", key.key);
        assert_eq!(key.project_id, Some(project.id));
        assert_eq!(key.scopes, vec!["reports:read".to_string()], "project default scopes");
        let in_project: Vec<_> = client
            .api_keys()
            .list(ListApiKeys { project_id: Some(project.id), ..Default::default() })
            .try_collect()
            .await
            .expect("list by project");
        assert_eq!(in_project.iter().map(|k| k.id).collect::<Vec<_>>(), vec![key.id]);

        let missing = client.projects().get(Uuid::now_v7()).await.expect_err("unknown project");
        assert!(missing.is_not_found(), "{missing}");
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------

async fn pagination_streams_every_page(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let project = client
            .projects()
            .create(CreateProjectRequest::builder().name("paged").try_into().expect("valid"))
            .await
            .expect("project");
        let mut created = Vec::new();
        for n in 0..7 {
            let key = client
                .api_keys()
                .create(new_key_with(&format!("page-{n}"), json!({"project_id": project.id})))
                .await
                .expect("create");
            created.push(key.id);
        }
        let params = ListApiKeys { project_id: Some(project.id), limit: Some(3), ..Default::default() };

        let streamed: Vec<_> = client.api_keys().list(params.clone()).try_collect().await.expect("stream");
        let streamed_ids: Vec<Uuid> = streamed.iter().map(|k| k.id).collect();
        let newest_first: Vec<Uuid> = created.iter().rev().copied().collect();
        assert_eq!(streamed_ids, newest_first, "all 7, newest first, no duplicates");

        // The same walk by hand: 3 + 3 + 1, the cursor absent on the last page.
        let mut sizes = Vec::new();
        let mut cursor = None;
        for _ in 0..10 {
            let page = client
                .api_keys()
                .list_page(ListApiKeys { starting_after: cursor, ..params.clone() })
                .await
                .expect("page");
            sizes.push(page.items.len());
            match page.next_cursor {
                Some(next) => cursor = Some(next.parse().expect("cursor is a key id")),
                None => break,
            }
        }
        assert_eq!(sizes, vec![3, 3, 1]);

        let after_third: Vec<_> = client
            .api_keys()
            .list(ListApiKeys { starting_after: Some(newest_first[2]), ..params.clone() })
            .try_collect()
            .await
            .expect("stream from a cursor");
        assert_eq!(after_third.iter().map(|k| k.id).collect::<Vec<_>>(), newest_first[3..].to_vec());
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// Typed errors
// ---------------------------------------------------------------------------

async fn typed_errors(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);

        let not_found = client.api_keys().get(Uuid::now_v7()).await.expect_err("unknown id");
        assert!(not_found.is_not_found(), "{not_found}");
        assert_eq!(not_found.status(), Some(404));
        assert!(not_found.code().is_some_and(|code| !code.is_empty()));
        assert!(not_found.request_id().is_some(), "errors carry the request id: {not_found:?}");
        let shown = not_found.to_string();
        assert!(shown.starts_with("404 ") && shown.contains("request_id"), "{shown}");

        let bad_cidr = new_key_with("bad ip", json!({"allowed_ips": ["300.1.2.3/99"]}));
        let invalid = client.api_keys().create(bad_cidr).await.expect_err("bad CIDR");
        assert!(invalid.is_bad_request(), "{invalid}");
        assert!(invalid.message().is_some_and(|m| m.contains("allowed_ips")), "message names the field: {invalid}");
        // The spec's bounds are checked before anything is sent.
        assert!(matches!(invalid, Error::InvalidArgument(_)), "refused by the client: {invalid:?}");
        assert_eq!(invalid.status(), None, "no status: nothing was sent");

        let bad_limit = client
            .api_keys()
            .list_page(ListApiKeys { limit: Some(100_000), ..Default::default() })
            .await
            .expect_err("limit over 200");
        assert!(bad_limit.is_bad_request() && bad_limit.message().is_some_and(|m| m.contains("limit")), "{bad_limit}");
        assert!(
            bad_limit.message().is_some_and(|m| m.contains("`limit` must be at most 200")),
            "the bound is named: {bad_limit}"
        );
        let long_name = new_key_with(&"n".repeat(201), json!({}));
        let too_long = client.api_keys().create(long_name).await.expect_err("201 characters");
        assert!(
            too_long.message().is_some_and(|m| m.contains("`name` must be at most 200 characters long")),
            "{too_long}"
        );

        let stranger = sdk(&server.base_url, "kw_live_notarealkeynotarealkeynotarealkey123456");
        let unauthorized = stranger.api_keys().list_page(ListApiKeys::default()).await.expect_err("bad key");
        assert!(unauthorized.is_unauthorized(), "{unauthorized}");
        assert!(!unauthorized.is_retryable());

        let reader = client
            .api_keys()
            .create(new_key_with("reader", json!({"scopes": ["keys:read"]})))
            .await
            .expect("create reader");
        let read_only = sdk(&server.base_url, reader.key.expose());
        read_only.api_keys().list_page(ListApiKeys::default()).await.expect("keys:read may list");
        let denied = read_only.api_keys().create(new_key("nope")).await.expect_err("keys:read may not create");
        assert!(denied.is_permission_denied(), "{denied}");

        let nowhere = Client::builder()
            .api_key(&server.admin_key)
            .base_url("http://127.0.0.1:9")
            .max_retries(0)
            .build()
            .expect("config");
        let refused = nowhere.api_keys().get(Uuid::now_v7()).await.expect_err("nothing listens on port 9");
        assert!(refused.is_connection(), "{refused:?}");

        assert!(matches!(Client::builder().api_key("").build(), Err(Error::InvalidConfig(_))));
        assert!(matches!(Client::builder().api_key("k").base_url("not a url").build(), Err(Error::InvalidConfig(_))));
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// Retries, through the scripted proxy
// ---------------------------------------------------------------------------

const FAIL_503: Step = Step::Fail { status: 503, retry_after_seconds: None };

async fn retries_503_then_succeeds(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let key = server.create_key(json!({"name": "target"})).await;
        let id: Uuid = key["id"].as_str().and_then(|id| id.parse().ok()).expect("created id");

        let proxy = Proxy::start(&server.base_url, [FAIL_503, FAIL_503]).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        let fetched = client.api_keys().get(id).await.expect("third attempt succeeds");
        assert_eq!(fetched.id, id);
        assert_eq!(proxy.seen_on("GET", "/v1/api-keys/").len(), 3, "1 attempt + 2 retries");
        proxy.stop().await;

        // Out of retries: the last failure comes back typed, foreign body and all.
        let proxy = Proxy::start(&server.base_url, [FAIL_503, FAIL_503, FAIL_503]).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        let error = client.api_keys().get(id).await.expect_err("3 failures with max_retries 2");
        assert_eq!(error.status(), Some(503));
        assert_eq!(error.code(), Some("http_503"));
        assert!(error.is_server_error() && error.is_retryable());
        assert_eq!(proxy.seen().len(), 3);
        proxy.stop().await;

        // max_retries 0 (here per call, through with_options) means one attempt.
        let proxy = Proxy::start(&server.base_url, [FAIL_503]).await;
        let client = sdk(&proxy.base_url, &server.admin_key)
            .with_options(RequestOptions { max_retries: Some(0), ..Default::default() });
        assert_eq!(client.api_keys().get(id).await.expect_err("no retries").status(), Some(503));
        assert_eq!(proxy.seen().len(), 1);
        proxy.stop().await;

        // A 404 is an answer, not a transient failure: no retry.
        let proxy = Proxy::start(&server.base_url, []).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        assert!(client.api_keys().get(Uuid::now_v7()).await.expect_err("404").is_not_found());
        assert_eq!(proxy.seen().len(), 1);
        proxy.stop().await;
        server.stop().await;
    })
    .await
}

async fn retries_429_after_retry_after(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let proxy = Proxy::start(&server.base_url, [Step::Fail { status: 429, retry_after_seconds: Some(1) }]).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        let started = Instant::now();
        let page = client.api_keys().list_page(ListApiKeys::default()).await.expect("second attempt succeeds");
        assert!(!page.items.is_empty());
        let seen = proxy.seen();
        assert_eq!(seen.len(), 2);
        let waited = seen[1].at.duration_since(seen[0].at);
        assert!(waited >= Duration::from_millis(950), "Retry-After: 1 honoured, waited {waited:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
        proxy.stop().await;
        server.stop().await;
    })
    .await
}

async fn create_retried_with_one_idempotency_key_creates_once(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        // The server creates the key, but the client only ever sees a 503.
        let proxy = Proxy::start(&server.base_url, [Step::ForwardThenFail { status: 503 }]).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        let created = client.api_keys().create(new_key("exactly-once")).await.expect("create through a lossy proxy");

        let posts = proxy.seen_on("POST", "/v1/api-keys");
        assert_eq!(posts.len(), 2, "{posts:?}");
        let first_key = posts[0].idempotency_key.clone().expect("create sends an Idempotency-Key");
        assert!(Uuid::parse_str(&first_key).is_ok_and(|k| k.get_version_num() == 4), "a UUIDv4: {first_key}");
        assert_eq!(posts[1].idempotency_key.as_deref(), Some(first_key.as_str()), "the retry reuses it");
        assert!(posts[1].replayed, "the server replayed the first response");

        let direct = sdk(&server.base_url, &server.admin_key);
        let named: Vec<_> = direct
            .api_keys()
            .list(ListApiKeys::default())
            .try_filter(|k| futures::future::ready(k.name == "exactly-once"))
            .try_collect()
            .await
            .expect("list");
        assert_eq!(named.len(), 1, "exactly one key was created");
        assert_eq!(named[0].id, created.id);
        assert_eq!(verify_code(&direct, created.key.expose()).await, VerifyCode::Valid, "the replayed plaintext works");

        // Each call gets its own key; a caller-chosen key is sent as given.
        direct.api_keys().create(new_key("second")).await.expect("create");
        let proxy2 = Proxy::start(&server.base_url, []).await;
        let via_proxy = sdk(&proxy2.base_url, &server.admin_key);
        via_proxy.api_keys().create(new_key("a")).await.expect("create");
        via_proxy.api_keys().create(new_key("b")).await.expect("create");
        let chosen =
            via_proxy.with_options(RequestOptions { idempotency_key: Some("my-key-1".into()), ..Default::default() });
        let once = chosen.api_keys().create(new_key("chosen")).await.expect("create");
        let twice = chosen.api_keys().create(new_key("chosen")).await.expect("replayed");
        assert_eq!(once.id, twice.id);
        let clash = chosen.api_keys().create(new_key("different body")).await.expect_err("same key, other body");
        assert!(clash.is_conflict(), "{clash}");
        let keys: Vec<_> = proxy2.seen().into_iter().filter_map(|s| s.idempotency_key).collect();
        assert_eq!(keys.len(), 5);
        assert_ne!(keys[0], keys[1]);
        assert!(keys[2..].iter().all(|k| k == "my-key-1"));
        proxy.stop().await;
        proxy2.stop().await;
        server.stop().await;
    })
    .await
}

async fn mutating_posts_send_idempotency_keys_and_verify_does_not(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let proxy = Proxy::start(&server.base_url, []).await;
        let client = sdk(&proxy.base_url, &server.admin_key);
        let org = org_id(&server);
        let created = client.api_keys().create(new_key("k")).await.expect("create");
        client.api_keys().regenerate(created.id).await.expect("regenerate");
        client.api_keys().rotate(created.id, None).await.expect("rotate");
        client.organization_api_keys().create(org, new_key("o")).await.expect("org create");
        client
            .projects()
            .create(CreateProjectRequest::builder().name("p").try_into().expect("valid"))
            .await
            .expect("project create");
        client.keys().verify_key("kw_live_whatever").await.expect("verify");
        for seen in proxy.seen() {
            let expects_key = seen.method == "POST" && seen.path != "/v1/keys/verify";
            assert_eq!(seen.idempotency_key.is_some(), expects_key, "{seen:?}");
        }
        assert_eq!(proxy.seen().len(), 6);
        proxy.stop().await;
        server.stop().await;
    })
    .await
}

/// `RequestOptions::extra_headers` reach every attempt of every call made
/// through the client; one that cannot be sent fails before any request.
async fn extra_headers_go_with_every_attempt(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let proxy = Proxy::start(&server.base_url, [Step::Fail { status: 503, retry_after_seconds: Some(0) }]).await;
        let traced = sdk(&proxy.base_url, &server.admin_key).with_options(RequestOptions {
            extra_headers: vec![("x-trace-id".into(), "trace-1".into())],
            ..Default::default()
        });
        let created = traced.api_keys().create(new_key("traced")).await.expect("create after one 503");
        traced.api_keys().get(created.id).await.expect("get");
        let seen = proxy.seen();
        assert_eq!(seen.len(), 3, "the 503, its retry, the get: {seen:?}");
        for request in &seen {
            assert_eq!(request.headers.get("x-trace-id").and_then(|v| v.to_str().ok()), Some("trace-1"), "{request:?}");
            assert!(request.headers.get("authorization").is_some(), "the client's own headers stay");
        }

        let broken = traced.with_options(RequestOptions {
            extra_headers: vec![("bad header".into(), "x".into())],
            ..Default::default()
        });
        let refused = broken.api_keys().get(created.id).await.expect_err("an invalid header name");
        assert!(matches!(refused, Error::InvalidArgument(ref m) if m.contains("bad header")), "{refused:?}");
        assert_eq!(proxy.seen().len(), 3, "nothing was sent");
        proxy.stop().await;
        server.stop().await;
    })
    .await
}

async fn verify_is_not_retried_after_a_timeout_when_it_spends(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let key = server.create_key(json!({"name": "metered"})).await;
        let plaintext = key["key"].as_str().expect("plaintext").to_string();
        let stall = || Step::Stall(Duration::from_secs(3));
        let impatient = |base_url: &str| {
            Client::builder()
                .api_key(&server.admin_key)
                .base_url(base_url)
                .timeout(Duration::from_millis(400))
                .build()
                .expect("config")
        };

        // cost defaults to 1: a timed-out verify may have spent it, so no retry.
        let proxy = Proxy::start(&server.base_url, [stall()]).await;
        let error = impatient(&proxy.base_url).keys().verify_key(&plaintext).await.expect_err("stalled");
        assert!(error.is_timeout(), "{error:?}");
        assert_eq!(proxy.seen().len(), 1, "not retried");
        proxy.stop().await;

        // cost 0 spends nothing: safe to retry.
        let proxy = Proxy::start(&server.base_url, [stall()]).await;
        let request = VerifyKeyRequest { key: plaintext.clone(), cost: Some(0), ip: None, required_scopes: None };
        let verdict = impatient(&proxy.base_url).keys().verify(request).await.expect("retried after the stall");
        assert!(verdict.valid);
        assert_eq!(proxy.seen().len(), 2);
        proxy.stop().await;

        // A 503 is the server saying it did nothing: retried even with a cost.
        let proxy = Proxy::start(&server.base_url, [FAIL_503]).await;
        let verdict = sdk(&proxy.base_url, &server.admin_key).keys().verify_key(&plaintext).await.expect("retried");
        assert!(verdict.valid);
        assert_eq!(proxy.seen().len(), 2);
        proxy.stop().await;

        // Other calls are retried after a timeout.
        let proxy = Proxy::start(&server.base_url, [stall()]).await;
        impatient(&proxy.base_url).api_keys().list_page(ListApiKeys::default()).await.expect("retried");
        assert_eq!(proxy.seen().len(), 2);
        proxy.stop().await;
        server.stop().await;
    })
    .await
}

/// The server's own 429 (the calling key over its `rate_limit`) carries
/// `Retry-After`; the SDK waits it out instead of failing.
async fn waits_out_the_servers_own_rate_limit(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let admin = sdk(&server.base_url, &server.admin_key);
        let limited = admin
            .api_keys()
            .create(new_key_with(
                "one per second",
                json!({"scopes": ["keys:read"], "rate_limit": {"limit": 1, "window_ms": 1000}}),
            ))
            .await
            .expect("create");
        let no_retries = Client::builder()
            .api_key(limited.key.expose())
            .base_url(&server.base_url)
            .max_retries(0)
            .build()
            .expect("config");
        no_retries.api_keys().list_page(ListApiKeys::default()).await.expect("first call is within the limit");
        let refused =
            no_retries.api_keys().list_page(ListApiKeys::default()).await.expect_err("second call is over it");
        assert!(refused.is_rate_limited(), "{refused}");
        assert!(refused.request_id().is_some());

        let patient = no_retries.with_options(RequestOptions { max_retries: Some(2), ..Default::default() });
        let started = Instant::now();
        patient.api_keys().list_page(ListApiKeys::default()).await.expect("retried after Retry-After");
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
        server.stop().await;
    })
    .await
}

// ---------------------------------------------------------------------------
// The axum guard
// ---------------------------------------------------------------------------

async fn report(key: VerifiedKey) -> Json<Value> {
    Json(json!({ "key_id": key.key_id, "scopes": key.scopes }))
}

async fn middleware_guards_an_axum_app(backend: Backend) {
    within_deadline(async {
        let server = TestServer::start(backend).await;
        let client = sdk(&server.base_url, &server.admin_key);
        let app = Router::new()
            .route("/reports", get(report))
            .layer(RequireKey::new(client.clone()).scopes(["reports:read"]))
            .route("/open", get(|| async { "open" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let app_url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop_app, stopped) = tokio::sync::oneshot::channel::<()>();
        let app_task = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });

        let issue = |name: &'static str, fields: Value| {
            let client = client.clone();
            async move { client.api_keys().create(new_key_with(name, fields)).await.expect("create").key }
        };
        let reader = issue("reader", json!({"scopes": ["reports:read"]})).await;
        let writer = issue("writer", json!({"scopes": ["reports:write"]})).await;
        let wildcard = issue("wildcard", json!({"scopes": ["reports:*"]})).await;
        let elsewhere = issue("elsewhere", json!({"scopes": ["*"], "allowed_ips": ["10.1.2.3/32"]})).await;
        let limited =
            issue("limited", json!({"scopes": ["*"], "rate_limit": RateLimit { limit: 1, window_ms: 60_000 }})).await;
        let revoked =
            client.api_keys().create(new_key_with("revoked", json!({"scopes": ["*"]}))).await.expect("create");
        client.api_keys().revoke(revoked.id).await.expect("revoke");

        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("http");
        let call = |header: Option<(&'static str, String)>| {
            let mut request = http.get(format!("{app_url}/reports"));
            if let Some((name, value)) = header {
                request = request.header(name, value);
            }
            async move {
                let response = request.send().await.expect("app answers");
                let status = response.status().as_u16();
                let retry_after = response.headers().get("retry-after").is_some();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (status, body, retry_after)
            }
        };
        let bearer = |key: &keyward::Secret| Some(("authorization", format!("Bearer {}", key.expose())));

        let (status, body, _) = call(bearer(&reader)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scopes"], json!(["reports:read"]));
        assert!(body["key_id"].is_string());
        assert_eq!(call(Some(("x-api-key", wildcard.expose().to_string()))).await.0, 200, "x-api-key and reports:*");

        let (status, body, _) = call(None).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("missing_key")), "{body}");
        assert!(body["error"].is_string());
        let (status, body, _) = call(Some(("authorization", "Bearer kw_live_bogus".into()))).await;
        assert_eq!(status, 401, "{body}");
        let (status, body, _) = call(bearer(&revoked.key)).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("revoked")), "{body}");
        let (status, body, _) = call(bearer(&writer)).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("insufficient_scopes")), "{body}");
        let (status, body, _) = call(bearer(&elsewhere)).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden_ip")), "peer IP was checked: {body}");
        assert_eq!(call(bearer(&limited)).await.0, 200);
        let (status, body, retry_after) = call(bearer(&limited)).await;
        assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
        assert!(retry_after, "429 carries Retry-After");

        let open = http.get(format!("{app_url}/open")).send().await.expect("open route");
        assert_eq!(open.status().as_u16(), 200, "routes outside the layer stay open");

        // keyward unreachable: fail closed.
        let unreachable = Client::builder()
            .api_key(&server.admin_key)
            .base_url("http://127.0.0.1:9")
            .max_retries(0)
            .build()
            .expect("config");
        let closed = Router::new().route("/reports", get(report)).layer(RequireKey::new(unreachable));
        let response = tower::ServiceExt::oneshot(
            closed,
            axum::http::Request::get("/reports")
                .header("x-api-key", reader.expose())
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
        assert_eq!(response.status().as_u16(), 503);

        let _ = stop_app.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), app_task).await;
        server.stop().await;
    })
    .await
}

backend_tests!(
    key_lifecycle,
    verify_reports_scopes_and_cost,
    organization_family,
    projects,
    pagination_streams_every_page,
    typed_errors,
    retries_503_then_succeeds,
    retries_429_after_retry_after,
    waits_out_the_servers_own_rate_limit,
    create_retried_with_one_idempotency_key_creates_once,
    mutating_posts_send_idempotency_keys_and_verify_does_not,
    extra_headers_go_with_every_attempt,
    verify_is_not_retried_after_a_timeout_when_it_spends,
    middleware_guards_an_axum_app,
);
