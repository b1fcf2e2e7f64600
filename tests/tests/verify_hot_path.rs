//! The verify hot path (`docs/architecture.md#the-verify-path`): every outcome code, scopes, CIDRs,
//! rate limits, quotas (exact under concurrency and across restarts), refill,
//! `cost`, cache invalidation, write-behind usage, the usage endpoint,
//! `/metrics` and the caller's own rate limit on the management API.

use keyward_tests::{Backend, TestServer, backend_tests, json, manual_clock};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::{sync::atomic::Ordering, time::Duration};

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn key_of(v: &Value) -> String {
    v["key"].as_str().expect("key").to_string()
}

async fn verify_with(s: &TestServer, body: Value) -> Value {
    let r = s.post("/v1/keys/verify", &s.admin_key, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "verify {body} answered {}", r.body);
    r.body
}

async fn code(s: &TestServer, body: Value) -> String {
    verify_with(s, body).await["code"].as_str().expect("code").to_string()
}

/// Polls `probe` (at most ~10 s) until it returns Some.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..100 {
        if let Some(v) = probe().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn every_code(backend: Backend) {
    let clock = manual_clock();
    let s = TestServer::start_with(backend, |c| c.clock = clock.clone()).await;
    // MALFORMED: rejected by the checksum, with no lookup at all.
    let mut typo = key_of(&s.create_key(json!({"name": "typo"})).await);
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let misses = s.state.keys.stats().misses.load(Ordering::Relaxed);
    for bad in ["", "kw_live_short", "not a key", typo.as_str()] {
        let v = verify_with(&s, json!({"key": bad})).await;
        assert_eq!(
            (v["valid"].clone(), v["code"].clone(), v["key_id"].clone()),
            (json!(false), json!("MALFORMED"), Value::Null)
        );
    }
    assert_eq!(s.state.keys.stats().misses.load(Ordering::Relaxed), misses, "MALFORMED costs no lookup");

    let unknown = keyward_server::keyfmt::generate("kw", "live").into_plaintext();
    assert_eq!(code(&s, json!({"key": unknown})).await, "NOT_FOUND");
    let (_, other_admin) = s.new_tenant("Other").await;
    let r = s.post("/v1/api-keys", &other_admin, json!({"name": "theirs"})).await;
    let theirs = key_of(&r.body);
    let v = verify_with(&s, json!({"key": theirs})).await;
    assert_eq!(
        (v["code"].clone(), v["key_id"].clone()),
        (json!("NOT_FOUND"), Value::Null),
        "another tenant's key is unknown"
    );

    let k = s.create_key(json!({"name": "valid", "scopes": ["a:b"], "meta": {"plan": "pro", "n": [1, 2]}})).await;
    let v = verify_with(&s, json!({"key": key_of(&k)})).await;
    assert_eq!(v["valid"], true);
    assert_eq!(v["code"], "VALID");
    assert_eq!(v["key_id"], k["id"]);
    assert_eq!(v["organization_id"], json!(s.organization_id));
    assert_eq!(v["environment"], "live");
    assert_eq!(v["name"], "valid");
    assert_eq!(v["scopes"], json!(["a:b"]));
    assert_eq!(v["meta"], json!({"plan": "pro", "n": [1, 2]}));
    assert_eq!((v["ratelimit"].clone(), v["remaining"].clone()), (Value::Null, Value::Null));

    let revoked = s.create_key(json!({"name": "revoked"})).await;
    assert_eq!(
        s.delete(&format!("/v1/api-keys/{}", id_of(&revoked)), &s.admin_key).await.status,
        StatusCode::NO_CONTENT
    );
    let disabled = s.create_key(json!({"name": "disabled"})).await;
    s.patch(&format!("/v1/api-keys/{}", id_of(&disabled)), &s.admin_key, json!({"is_active": false})).await;
    let ip = s.create_key(json!({"name": "ip", "allowed_ips": ["192.0.2.0/24"]})).await;
    let limited = s.create_key(json!({"name": "rl", "rate_limit": {"limit": 1, "window_ms": 60000}})).await;
    let quota = s.create_key(json!({"name": "quota", "usage_limit": {"remaining": 1}})).await;
    let expiring = s
        .create_key(json!({"name": "exp", "expires_at": keyward_server::domain::time::ms_to_time(clock.now_ms() + 1000).to_rfc3339()}))
        .await;

    let known = |body: Value, expected: &'static str, key: &Value| {
        let id = key["id"].clone();
        let s = &s;
        async move {
            let v = verify_with(s, body).await;
            assert_eq!((v["valid"].clone(), v["code"].clone()), (json!(false), json!(expected)), "{v}");
            assert_eq!(v["key_id"], id, "a known key's verdict names it: {v}");
        }
    };
    known(json!({"key": key_of(&revoked)}), "REVOKED", &revoked).await;
    known(json!({"key": key_of(&disabled)}), "DISABLED", &disabled).await;
    known(json!({"key": key_of(&ip), "ip": "198.51.100.1"}), "FORBIDDEN_IP", &ip).await;
    known(json!({"key": key_of(&k), "required_scopes": ["a:c"]}), "INSUFFICIENT_SCOPES", &k).await;
    assert_eq!(code(&s, json!({"key": key_of(&limited)})).await, "VALID");
    known(json!({"key": key_of(&limited)}), "RATE_LIMITED", &limited).await;
    assert_eq!(code(&s, json!({"key": key_of(&quota)})).await, "VALID");
    known(json!({"key": key_of(&quota)}), "USAGE_EXCEEDED", &quota).await;
    assert_eq!(code(&s, json!({"key": key_of(&expiring)})).await, "VALID");
    clock.advance(2000);
    known(json!({"key": key_of(&expiring)}), "EXPIRED", &expiring).await;
    s.stop().await;
}

async fn scope_wildcards(backend: Backend) {
    let s = TestServer::start(backend).await;
    let all = key_of(&s.create_key(json!({"name": "all", "scopes": ["*"]})).await);
    let billing = key_of(&s.create_key(json!({"name": "billing", "scopes": ["billing:*", "read"]})).await);
    let none = key_of(&s.create_key(json!({"name": "none"})).await);
    let cases: &[(&str, Value, &str)] = &[
        (&all, json!(["anything", "x:y:z"]), "VALID"),
        (&all, json!(["*"]), "VALID"),
        (&billing, json!(["billing:charge"]), "VALID"),
        (&billing, json!(["billing:charge", "billing:refund:partial", "read"]), "VALID"),
        (&billing, json!([]), "VALID"),
        (&billing, json!(["billing"]), "INSUFFICIENT_SCOPES"),
        (&billing, json!(["billingx:charge"]), "INSUFFICIENT_SCOPES"),
        (&billing, json!(["billing:charge", "write"]), "INSUFFICIENT_SCOPES"),
        (&billing, json!(["*"]), "INSUFFICIENT_SCOPES"),
        (&billing, json!(["read:more"]), "INSUFFICIENT_SCOPES"),
        (&none, json!([]), "VALID"),
        (&none, json!(["read"]), "INSUFFICIENT_SCOPES"),
    ];
    for (key, required, expected) in cases {
        assert_eq!(code(&s, json!({"key": key, "required_scopes": required})).await, *expected, "{required}");
    }
    s.stop().await;
}

async fn cidr_edges(backend: Backend) {
    let s = TestServer::start(backend).await;
    let exact = key_of(&s.create_key(json!({"name": "exact", "allowed_ips": ["203.0.113.7/32", "2001:db8::1"]})).await);
    let v4_all = key_of(&s.create_key(json!({"name": "v4all", "allowed_ips": ["0.0.0.0/0"]})).await);
    let v6_all = key_of(&s.create_key(json!({"name": "v6all", "allowed_ips": ["::/0"]})).await);
    let v6_net = key_of(&s.create_key(json!({"name": "v6net", "allowed_ips": ["2001:db8:abcd::/48"]})).await);
    let cases: &[(&str, Option<&str>, &str)] = &[
        (&exact, Some("203.0.113.7"), "VALID"),
        (&exact, Some("203.0.113.8"), "FORBIDDEN_IP"),
        (&exact, Some("2001:db8::1"), "VALID"),
        (&exact, Some("2001:db8::2"), "FORBIDDEN_IP"),
        (&exact, Some(" 203.0.113.7 "), "VALID"),
        (&exact, None, "FORBIDDEN_IP"),
        (&v4_all, Some("255.255.255.255"), "VALID"),
        (&v4_all, Some("0.0.0.0"), "VALID"),
        (&v4_all, Some("::1"), "FORBIDDEN_IP"),
        (&v4_all, None, "FORBIDDEN_IP"),
        (&v6_all, Some("fe80::1"), "VALID"),
        (&v6_all, Some("10.0.0.1"), "FORBIDDEN_IP"),
        (&v6_net, Some("2001:db8:abcd:ffff:ffff:ffff:ffff:ffff"), "VALID"),
        (&v6_net, Some("2001:db8:abce::"), "FORBIDDEN_IP"),
    ];
    for (key, ip, expected) in cases {
        let mut body = json!({"key": key});
        if let Some(ip) = ip {
            body["ip"] = json!(ip);
        }
        assert_eq!(code(&s, body).await, *expected, "ip {ip:?}");
    }
    // Bad rules are refused at create and update (400 naming the entry).
    for bad in ["10.0.0.1/", "256.1.1.1", "2001:db8::/abc", "", "10.0.0.0/8/8", "1.2.3.4.5"] {
        let r = s.post("/v1/api-keys", &s.admin_key, json!({"name": "x", "allowed_ips": ["10.0.0.1", bad]})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(r.error_message().contains("allowed_ips[1]"), "{bad:?}: {}", r.body);
    }
    // A bad `ip` in the verify request is the caller's mistake: 400 naming `ip`.
    for bad in ["::g", "1.2.3", "10.0.0.0/8"] {
        let r = s.post("/v1/keys/verify", &s.admin_key, json!({"key": exact, "ip": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.error_message().starts_with("ip"), "{}", r.body);
    }
    s.stop().await;
}

async fn rate_limit_window_resets(backend: Backend) {
    let clock = manual_clock();
    let s = TestServer::start_with(backend, |c| c.clock = clock.clone()).await;
    let k = s.create_key(json!({"name": "rl", "rate_limit": {"limit": 3, "window_ms": 1000}})).await;
    let key = key_of(&k);
    for left in [2, 1, 0] {
        let v = verify_with(&s, json!({"key": key})).await;
        assert_eq!(v["code"], "VALID", "{v}");
        assert_eq!((v["ratelimit"]["limit"].clone(), v["ratelimit"]["remaining"].clone()), (json!(3), json!(left)));
        assert!(v["ratelimit"]["reset_at"].is_string(), "{v}");
    }
    let v = verify_with(&s, json!({"key": key})).await;
    assert_eq!((v["valid"].clone(), v["code"].clone()), (json!(false), json!("RATE_LIMITED")));
    assert_eq!(v["ratelimit"]["remaining"], 0);
    // A failed static check reports the bucket without spending from it.
    assert_eq!(code(&s, json!({"key": key, "required_scopes": ["nope"]})).await, "INSUFFICIENT_SCOPES");
    clock.advance(1100);
    let v = verify_with(&s, json!({"key": key})).await;
    assert_eq!(v["code"], "VALID", "{v}");
    assert_eq!(v["ratelimit"]["remaining"], 2);
    // Changing the limit takes effect at once (the write invalidates the cache).
    s.patch(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key, json!({"rate_limit": null})).await;
    for _ in 0..5 {
        let v = verify_with(&s, json!({"key": key})).await;
        assert_eq!((v["code"].clone(), v["ratelimit"].clone()), (json!("VALID"), Value::Null));
    }
    s.stop().await;
}

async fn cost_spends_tokens_and_credits(backend: Backend) {
    let s = TestServer::start(backend).await;
    let q = s.create_key(json!({"name": "q", "usage_limit": {"remaining": 10}})).await;
    let quota = key_of(&q);
    for (cost, field) in [(json!(1_000_001), "cost"), (json!(-1), "cost"), (json!("2"), "cost"), (json!(1.5), "cost")] {
        let r = s.post("/v1/keys/verify", &s.admin_key, json!({"key": quota, "cost": cost})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "cost {cost}: {}", r.body);
        assert!(r.error_message().starts_with(field), "{}", r.body);
    }
    let spend = |cost: u64| {
        let s = &s;
        let quota = quota.clone();
        async move {
            let v = verify_with(s, json!({"key": quota, "cost": cost})).await;
            (v["code"].as_str().unwrap().to_string(), v["remaining"].clone())
        }
    };
    assert_eq!(spend(4).await, ("VALID".into(), json!(6)));
    assert_eq!(spend(0).await, ("VALID".into(), json!(6)), "cost 0 checks without spending");
    assert_eq!(spend(7).await, ("USAGE_EXCEEDED".into(), json!(6)), "a failed spend takes nothing");
    assert_eq!(spend(6).await, ("VALID".into(), json!(0)));
    assert_eq!(spend(0).await, ("VALID".into(), json!(0)));
    assert_eq!(spend(1).await, ("USAGE_EXCEEDED".into(), json!(0)));
    assert_eq!(spend(1_000_000).await, ("USAGE_EXCEEDED".into(), json!(0)));
    let r = s.get(&format!("/v1/api-keys/{}", id_of(&q)), &s.admin_key).await;
    assert_eq!(r.body["usage_limit"]["remaining"], 0);

    let limited = key_of(&s.create_key(json!({"name": "rl", "rate_limit": {"limit": 5, "window_ms": 60000}})).await);
    let v = verify_with(&s, json!({"key": limited, "cost": 5})).await;
    assert_eq!((v["code"].clone(), v["ratelimit"]["remaining"].clone()), (json!("VALID"), json!(0)));
    let v = verify_with(&s, json!({"key": limited, "cost": 1})).await;
    assert_eq!(v["code"], "RATE_LIMITED");
    let other = key_of(&s.create_key(json!({"name": "rl2", "rate_limit": {"limit": 5, "window_ms": 60000}})).await);
    assert_eq!(code(&s, json!({"key": other, "cost": 6})).await, "RATE_LIMITED", "more than the limit never passes");
    assert_eq!(code(&s, json!({"key": other, "cost": 3})).await, "VALID");
    assert_eq!(code(&s, json!({"key": other, "cost": 2})).await, "VALID");
    assert_eq!(code(&s, json!({"key": other, "cost": 0})).await, "VALID", "cost 0 spends no token");
    s.stop().await;
}

/// 50 concurrent verifies of a key with 20 credits: exactly 20 pass.
async fn spend_concurrently(s: &TestServer, key: &str) -> (usize, usize, Vec<u64>) {
    let calls = (0..50).map(|_| s.post("/v1/keys/verify", &s.admin_key, json!({"key": key})));
    let results = futures::future::join_all(calls).await;
    let (mut valid, mut exceeded, mut left) = (0, 0, Vec::new());
    for r in results {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        match r.body["code"].as_str().unwrap() {
            "VALID" => {
                valid += 1;
                left.push(r.body["remaining"].as_u64().unwrap());
            }
            "USAGE_EXCEEDED" => exceeded += 1,
            other => panic!("unexpected {other}"),
        }
    }
    left.sort_unstable();
    (valid, exceeded, left)
}

async fn quota_is_exact_under_concurrency_and_restarts(backend: Backend) {
    let s = TestServer::start(backend).await;
    let k = s.create_key(json!({"name": "quota", "usage_limit": {"remaining": 20}})).await;
    let key = key_of(&k);
    let (valid, exceeded, left) = spend_concurrently(&s, &key).await;
    assert_eq!((valid, exceeded), (20, 30));
    assert_eq!(left, (0..20).collect::<Vec<_>>(), "each success saw its own remaining count");

    // A new process on the same database: the quota is where it was.
    let s = s.restart().await;
    let v = verify_with(&s, json!({"key": key})).await;
    assert_eq!((v["code"].clone(), v["remaining"].clone()), (json!("USAGE_EXCEEDED"), json!(0)));
    let r =
        s.patch(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key, json!({"usage_limit": {"remaining": 20}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (valid, exceeded, left) = spend_concurrently(&s, &key).await;
    assert_eq!((valid, exceeded), (20, 30), "after a restart too");
    assert_eq!(left, (0..20).collect::<Vec<_>>());
    let r = s.get(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key).await;
    assert_eq!(r.body["usage_limit"]["remaining"], 0);
    s.stop().await;
}

async fn quota_refills(backend: Backend) {
    let clock = manual_clock();
    let s = TestServer::start_with(backend, |c| c.clock = clock.clone()).await;
    let key = key_of(
        &s.create_key(
            json!({"name": "refill", "usage_limit": {"remaining": 2, "refill": {"amount": 3, "interval_ms": 1000}}}),
        )
        .await,
    );
    let remaining = |body: Value| async { verify_with(&s, body).await["remaining"].clone() };
    assert_eq!(remaining(json!({"key": key})).await, json!(1));
    assert_eq!(remaining(json!({"key": key})).await, json!(0));
    assert_eq!(code(&s, json!({"key": key})).await, "USAGE_EXCEEDED");
    clock.advance(1100);
    // Reset to the refill amount (not added to what was left), once per interval.
    assert_eq!(remaining(json!({"key": key})).await, json!(2));
    assert_eq!(remaining(json!({"key": key, "cost": 2})).await, json!(0));
    let v = verify_with(&s, json!({"key": key})).await;
    assert_eq!((v["code"].clone(), v["remaining"].clone()), (json!("USAGE_EXCEEDED"), json!(0)));
    clock.advance(1100);
    let v = verify_with(&s, json!({"key": key, "cost": 4})).await;
    assert_eq!(
        (v["code"].clone(), v["remaining"].clone()),
        (json!("USAGE_EXCEEDED"), json!(3)),
        "reports the refilled amount"
    );
    assert_eq!(remaining(json!({"key": key, "cost": 3})).await, json!(0));
    s.stop().await;
}

async fn writes_invalidate_a_warm_cache(backend: Backend) {
    let s = TestServer::start(backend).await;
    let k = s.create_key(json!({"name": "hot"})).await;
    let key = key_of(&k);
    for _ in 0..5 {
        assert_eq!(code(&s, json!({"key": key})).await, "VALID");
    }
    assert!(s.state.keys.entry_count() > 0 || s.state.keys.stats().hits.load(Ordering::Relaxed) > 0);
    // Verifies keep hammering the key while it is revoked: once DELETE has
    // answered, no verify may say VALID again.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let (url, admin, key, stop) = (s.url("/v1/keys/verify"), s.admin_key.clone(), key.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let _ = http.post(&url).bearer_auth(&admin).json(&json!({"key": key})).send().await;
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.delete(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key).await.status, StatusCode::NO_CONTENT);
    for _ in 0..50 {
        assert_eq!(code(&s, json!({"key": key})).await, "REVOKED");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(hammer.await.unwrap() > 0);

    // Regenerate: the old secret is unknown at once. Disable: DISABLED at once.
    let k = s.create_key(json!({"name": "regen"})).await;
    let old = key_of(&k);
    assert_eq!(code(&s, json!({"key": old})).await, "VALID");
    let fresh = key_of(&s.post(&format!("/v1/api-keys/{}/regenerate", id_of(&k)), &s.admin_key, json!({})).await.body);
    assert_eq!(code(&s, json!({"key": old})).await, "NOT_FOUND");
    assert_eq!(code(&s, json!({"key": fresh})).await, "VALID");
    s.patch(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key, json!({"is_active": false})).await;
    assert_eq!(code(&s, json!({"key": fresh})).await, "DISABLED");
    s.patch(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key, json!({"is_active": true, "scopes": ["x"]})).await;
    let v = verify_with(&s, json!({"key": fresh, "required_scopes": ["x"]})).await;
    assert_eq!((v["code"].clone(), v["scopes"].clone()), (json!("VALID"), json!(["x"])));
    s.stop().await;
}

/// With the cache off every verify reads the store (on SQLite in place, on
/// the request's thread): each write is visible to the next verify.
async fn uncached_reads_see_every_write(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.cache_capacity = 0).await;
    let k = s.create_key(json!({"name": "cold", "scopes": ["a"]})).await;
    let (id, key) = (id_of(&k), key_of(&k));
    let v = verify_with(&s, json!({"key": key, "required_scopes": ["a"]})).await;
    assert_eq!((v["code"].clone(), v["key_id"].clone(), v["name"].clone()), (json!("VALID"), json!(id), json!("cold")));
    s.patch(&format!("/v1/api-keys/{id}"), &s.admin_key, json!({"is_active": false})).await;
    assert_eq!(code(&s, json!({"key": key})).await, "DISABLED");
    s.patch(&format!("/v1/api-keys/{id}"), &s.admin_key, json!({"is_active": true})).await;
    let fresh = key_of(&s.post(&format!("/v1/api-keys/{id}/regenerate"), &s.admin_key, json!({})).await.body);
    assert_eq!(code(&s, json!({"key": key})).await, "NOT_FOUND");
    assert_eq!(code(&s, json!({"key": fresh})).await, "VALID");
    assert_eq!(s.delete(&format!("/v1/api-keys/{id}"), &s.admin_key).await.status, StatusCode::NO_CONTENT);
    assert_eq!(code(&s, json!({"key": fresh})).await, "REVOKED");
    assert_eq!(s.state.keys.entry_count(), 0, "nothing is cached");
    let metrics = s.raw(Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
    let metric = |name: &str| -> Option<u64> {
        metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    };
    match backend {
        Backend::Sqlite => {
            // Every verify above and its caller's key: all read in place.
            assert!(metric("keyward_db_in_place_reads_total").is_some_and(|n| n >= 12), "{metrics}");
            assert_eq!(metric("keyward_db_in_place_read_failures_total"), Some(0));
        }
        Backend::Postgres => assert_eq!(metric("keyward_db_in_place_reads_total"), Some(0)),
    }
    s.stop().await;
}

/// Two replicas on one database: a write on one drops the key from the
/// other's warm cache. Postgres announces it (NOTIFY): with a 10-minute TTL
/// the replica can only learn of it that way. SQLite has no channel and is
/// bounded by the TTL (here 1 s).
async fn writes_invalidate_other_replicas(backend: Backend) {
    let ttl = match backend {
        Backend::Postgres => Duration::from_secs(600),
        Backend::Sqlite => Duration::from_secs(1),
    };
    let s = TestServer::start_with(backend, |c| c.cache_ttl = ttl).await;
    let replica = s.replica().await;
    let k = s.create_key(json!({"name": "shared"})).await;
    let (id, key) = (id_of(&k), key_of(&k));
    for _ in 0..3 {
        assert_eq!(code(&replica, json!({"key": key})).await, "VALID");
    }
    let hits = replica.state.keys.stats().hits.load(Ordering::Relaxed);
    assert!(hits > 0, "the replica answers from its cache");
    assert_eq!(s.delete(&format!("/v1/api-keys/{id}"), &s.admin_key).await.status, StatusCode::NO_CONTENT);
    eventually("the replica to see the revoke", || async {
        (code(&replica, json!({"key": key})).await == "REVOKED").then_some(())
    })
    .await;
    replica.stop().await;
    s.stop().await;
}

async fn usage_is_written_behind(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.usage_flush_interval = Duration::from_millis(200)).await;
    let k = s.create_key(json!({"name": "counted", "scopes": ["a"]})).await;
    let (id, key) = (id_of(&k), key_of(&k));
    assert_eq!((k["usage_count"].clone(), k["last_used_at"].clone()), (json!(0), Value::Null));
    for _ in 0..3 {
        assert_eq!(code(&s, json!({"key": key})).await, "VALID");
    }
    assert_eq!(code(&s, json!({"key": key, "required_scopes": ["b"]})).await, "INSUFFICIENT_SCOPES");
    let got = eventually("usage_count 4", || async {
        let r = s.get(&format!("/v1/api-keys/{id}"), &s.admin_key).await;
        (r.body["usage_count"] == 4).then_some(r.body)
    })
    .await;
    let last_used: chrono::DateTime<chrono::Utc> =
        got["last_used_at"].as_str().expect("last_used_at set").parse().unwrap();
    assert!((chrono::Utc::now() - last_used).num_seconds() < 60);
    s.stop().await;

    // Counts still in memory at shutdown are flushed by the graceful stop.
    let s = TestServer::start_with(backend, |c| c.usage_flush_interval = Duration::from_secs(3600)).await;
    let k = s.create_key(json!({"name": "shutdown"})).await;
    for _ in 0..2 {
        assert_eq!(code(&s, json!({"key": key_of(&k)})).await, "VALID");
    }
    let s = s.restart().await;
    let r = s.get(&format!("/v1/api-keys/{}", id_of(&k)), &s.admin_key).await;
    assert_eq!(r.body["usage_count"], 2, "{}", r.body);
    assert!(r.body["last_used_at"].is_string());
    s.stop().await;
}

async fn usage_endpoint(backend: Backend) {
    let s = TestServer::start_with(backend, |c| c.usage_flush_interval = Duration::from_millis(200)).await;
    let k = s.create_key(json!({"name": "usage", "rate_limit": {"limit": 2, "window_ms": 60000}})).await;
    let (id, key) = (id_of(&k), key_of(&k));
    for _ in 0..3 {
        verify_with(&s, json!({"key": key})).await;
    }
    verify_with(&s, json!({"key": key, "required_scopes": ["x"]})).await;
    let path = format!("/v1/api-keys/{id}/usage");
    let body = eventually("usage total 4", || async {
        let r = s.get(&path, &s.admin_key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (r.body["total"] == 4).then_some(r.body)
    })
    .await;
    assert_eq!(body["key_id"], json!(id));
    assert_eq!(body["granularity"], "hour");
    assert_eq!(body["counts"], json!({"INSUFFICIENT_SCOPES": 1, "RATE_LIMITED": 1, "VALID": 2}));
    let buckets = body["buckets"].as_array().unwrap();
    assert!((24..=25).contains(&buckets.len()), "24 h back from now, the current partial hour included");
    let busy: Vec<_> = buckets.iter().filter(|b| b["total"] != 0).collect();
    assert_eq!(busy.len(), 1, "{body}");
    assert_eq!(busy[0]["counts"]["VALID"], 2);

    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (now + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = s.get(&format!("{path}?granularity=day&from={from}&to={to}"), &s.admin_key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["total"], 4);
    assert!(r.body["buckets"].as_array().unwrap().len() >= 4);
    assert!(r.body["from"].as_str().unwrap().ends_with("T00:00:00Z"), "day buckets start at UTC midnight: {}", r.body);
    let r = s.get(&format!("{path}?to={from}&from={to}"), &s.admin_key).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error_message().starts_with("from"));
    for (query, field) in [("granularity=minute", "granularity"), ("from=yesterday", "from"), ("bogus=1", "bogus")] {
        let r = s.get(&format!("{path}?{query}"), &s.admin_key).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(r.error_message().contains(field), "{query}: {}", r.body);
    }
    let long = (now - chrono::Duration::days(40)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(s.get(&format!("{path}?from={long}"), &s.admin_key).await.status, StatusCode::BAD_REQUEST);
    // Tenancy and scopes as for every key route.
    let (_, other_admin) = s.new_tenant("Other").await;
    assert_eq!(s.get(&path, &other_admin).await.status, StatusCode::NOT_FOUND);
    let verifier = key_of(&s.create_key(json!({"name": "verifier", "scopes": ["keys:verify"]})).await);
    assert_eq!(s.get(&path, &verifier).await.status, StatusCode::FORBIDDEN);
    let reader = key_of(&s.create_key(json!({"name": "reader", "scopes": ["keys:read"]})).await);
    assert_eq!(s.get(&path, &reader).await.status, StatusCode::OK);
    s.stop().await;
}

async fn metrics_endpoint(backend: Backend) {
    let s = TestServer::start(backend).await;
    let key = key_of(&s.create_key(json!({"name": "m"})).await);
    verify_with(&s, json!({"key": key})).await;
    verify_with(&s, json!({"key": key})).await;
    verify_with(&s, json!({"key": "nope"})).await;
    s.raw(Method::GET, "/healthz").send().await.unwrap();
    s.get("/v1/no-such-route", &s.admin_key).await;
    let r = s.raw(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "served without credentials");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for needle in [
        r#"keyward_http_requests_total{method="POST",route="/v1/keys/verify",status="200"} 3"#,
        r#"keyward_http_requests_total{method="GET",route="/healthz",status="200"} 1"#,
        r#"keyward_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"keyward_http_request_duration_seconds_bucket{method="POST",route="/v1/keys/verify",status="200",le="+Inf"} 3"#,
        r#"keyward_verify_outcomes_total{code="VALID"} 2"#,
        r#"keyward_verify_outcomes_total{code="MALFORMED"} 1"#,
        r#"keyward_verify_outcomes_total{code="RATE_LIMITED"} 0"#,
        "keyward_key_cache_hits_total ",
        "keyward_key_cache_misses_total ",
        "keyward_key_cache_hit_ratio ",
        "keyward_db_pool_connections ",
        "keyward_db_pool_idle_connections ",
        "# TYPE keyward_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(needle), "/metrics lacks `{needle}`:\n{text}");
    }
    let hits: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("keyward_key_cache_hits_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(hits >= 2, "the admin key and the verified key are served from the cache");
    assert!(!text.contains(&key) && !text.contains(&s.admin_key), "no secrets in metrics");
    s.stop().await;

    let s = TestServer::start_with(backend, |c| c.metrics = false).await;
    let r = keyward_tests::Response::read(s.raw(Method::GET, "/metrics").send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    r.error_message();
    s.stop().await;
}

async fn caller_rate_limit_on_the_management_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    let caller = key_of(
        &s.create_key(
            json!({"name": "limited admin", "scopes": ["*"], "rate_limit": {"limit": 2, "window_ms": 60000}}),
        )
        .await,
    );
    for _ in 0..2 {
        assert_eq!(s.get("/v1/api-keys", &caller).await.status, StatusCode::OK);
    }
    let r = s.get("/v1/api-keys", &caller).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["code"], "rate_limited");
    r.error_message();
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    let reset: i64 = r.header("x-ratelimit-reset").expect("X-RateLimit-Reset").parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(reset > now && reset <= now + 61, "reset {reset} is a unix time within the window");
    let r = s.post("/v1/api-keys", &caller, json!({"name": "blocked"})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "writes are limited too");
    // Verify is exempt for the caller: it reports the verified key's limits.
    let other = key_of(&s.create_key(json!({"name": "v"})).await);
    for _ in 0..3 {
        let r = s.post("/v1/keys/verify", &caller, json!({"key": other})).await;
        assert_eq!((r.status, r.body["code"].clone()), (StatusCode::OK, json!("VALID")));
    }
    // Another caller is not affected.
    assert_eq!(s.get("/v1/api-keys", &s.admin_key).await.status, StatusCode::OK);
    s.stop().await;
}

backend_tests!(
    every_code,
    scope_wildcards,
    cidr_edges,
    rate_limit_window_resets,
    cost_spends_tokens_and_credits,
    quota_is_exact_under_concurrency_and_restarts,
    quota_refills,
    writes_invalidate_a_warm_cache,
    uncached_reads_see_every_write,
    writes_invalidate_other_replicas,
    usage_is_written_behind,
    usage_endpoint,
    metrics_endpoint,
    caller_rate_limit_on_the_management_api,
);
