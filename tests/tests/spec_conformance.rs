//! What the served spec promises about every operation, checked over a real
//! socket: a request without credentials answers 401 on every secured
//! operation, whatever else is wrong with it; and `/metrics` keeps a bounded
//! set of series whatever methods and paths clients send.

use keyward_tests::{Backend, TestServer, backend_tests};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Every secured operation of the served spec as (method, path with its
/// parameters filled in).
async fn secured_operations(s: &TestServer) -> Vec<(Method, String)> {
    let spec: Value = s.raw(Method::GET, "/openapi.json").send().await.unwrap().json().await.unwrap();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else { continue };
            // An operation without `security` of its own has the document's default.
            let security = op.get("security").unwrap_or(&spec["security"]);
            if security.as_array().is_none_or(|s| s.is_empty()) {
                continue;
            }
            let mut filled = String::new();
            for segment in path.split('/').skip(1) {
                filled.push('/');
                filled.push_str(if segment.starts_with('{') {
                    "0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70"
                } else {
                    segment
                });
            }
            out.push((method, filled));
        }
    }
    assert!(out.len() > 30, "the spec lists the secured operations: {out:?}");
    out
}

async fn missing_credentials_answer_401_everywhere(backend: Backend) {
    // Hundreds of deliberate failures from one address: the per-address
    // throttle (tested in `trust.rs`) would answer 429 before long.
    let s = TestServer::start_with(backend, |c| c.auth_failure_limit = 0).await;
    let oversized = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    // No connection reuse: the server answers an oversized body without
    // reading it and closes that connection.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let raw = |method: Method, path: &str| http.request(method, s.url(path));
    for (method, path) in secured_operations(&s).await {
        // Each also carries something else the server refuses: authentication answers first.
        let variants: Vec<(&str, reqwest::RequestBuilder)> = vec![
            ("nothing else", raw(method.clone(), &path)),
            ("a bad query", raw(method.clone(), &format!("{path}?limit=0&bogus=1"))),
            ("a malformed Idempotency-Key", raw(method.clone(), &path).header("idempotency-key", "x".repeat(300))),
            (
                "a body that is not JSON",
                raw(method.clone(), &path).header("content-type", "application/json").body("{"),
            ),
            (
                "a body over 64 KiB",
                raw(method.clone(), &path).header("content-type", "application/json").body(oversized.clone()),
            ),
            (
                "an oversized body and a malformed Idempotency-Key",
                raw(method.clone(), &path).header("idempotency-key", "").body(oversized.clone()),
            ),
        ];
        for (what, request) in variants {
            let response = request.send().await.expect("request reaches the test server");
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} without credentials and with {what}"
            );
        }
        let invalid = raw(method.clone(), &path).bearer_auth("kw_live_not-a-real-key").header("idempotency-key", "");
        assert_eq!(
            invalid.send().await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} with an invalid key"
        );
    }
    s.stop().await;
}

/// The series (sample lines) `/metrics` exposes.
async fn series(s: &TestServer) -> std::collections::BTreeSet<String> {
    let text = s.raw(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series).to_string())
        .collect()
}

async fn metrics_labels_come_from_closed_sets(backend: Backend) {
    let s = TestServer::start(backend).await;
    const METHODS: [&str; 12] =
        ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "FOO", "PURGE", "PROPFIND", "X-Y", "BREW"];
    // Warm up: one unauthenticated request per label combination the loop can reach.
    for method in METHODS {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        s.raw(method, "/zz-warm-up/path").send().await.unwrap();
    }
    series(&s).await; // the scrape's own series
    let before = series(&s).await;
    // 1 000 unauthenticated requests, random methods and paths (a fixed number: bounded).
    let mut random = uuid::Uuid::new_v4().as_u128();
    let mut next = || {
        // xorshift over a random seed: enough spread for methods and path segments.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random
    };
    for i in 0..1_000u32 {
        let method = Method::from_bytes(METHODS[(next() % METHODS.len() as u128) as usize].as_bytes()).unwrap();
        let depth = 1 + next() % 4;
        let path: String = (0..depth).map(|_| format!("/{:x}", next() as u64)).collect();
        let path = format!("/zz-{i}{path}?q={:x}", next() as u32);
        let response = s.raw(method.clone(), &path).send().await.expect("request reaches the test server");
        assert!(response.status().is_client_error(), "{method} {path}: {}", response.status());
    }
    let after = series(&s).await;
    let new: Vec<&String> = after.difference(&before).collect();
    assert!(new.is_empty(), "1 000 random requests added series: {new:#?}");
    assert_eq!(before.len(), after.len());
    assert!(after.iter().any(|l| l.contains("method=\"other\"") && l.contains("route=\"unmatched\"")), "{after:#?}");
    s.stop().await;
}

backend_tests!(missing_credentials_answer_401_everywhere, metrics_labels_come_from_closed_sets);
