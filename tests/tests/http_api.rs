//! The HTTP API end to end over a real socket, on every backend: both key
//! families, the lifecycle, verify codes, validation, tenancy and errors.

use keyward_tests::{Backend, TestServer, backend_tests, json, manual_clock};
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn plaintext_is_shown_once_and_reads_are_masked(backend: Backend) {
    let s = TestServer::start(backend).await;
    let created = s.create_key(json!({"name": "billing worker", "scopes": ["keys:verify"]})).await;
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("kw_live_"), "{key}");
    assert_eq!(created["key_prefix"].as_str().unwrap(), &key[..12]);
    assert_eq!(created["last4"].as_str().unwrap(), &key[key.len() - 4..]);
    assert_eq!(created["source"], "api");
    assert_eq!(created["project_id"], Value::Null);
    for field in ["expires_at", "revoked_at", "rate_limit", "usage_limit", "replaced_by_key_id", "grace_expires_at"] {
        assert_eq!(created[field], Value::Null, "{field}");
    }
    let id = id_of(&created);
    let got = s.get(&format!("/v1/api-keys/{id}"), &s.admin_key).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body.get("key").is_none(), "get must not return the plaintext");
    let listed = s.get("/v1/api-keys", &s.admin_key).await;
    assert!(!listed.body.to_string().contains(key), "list must not return the plaintext");
    // Only the hash is stored.
    let mut conn = s.state.store.pool().acquire().await.unwrap();
    let stored: Vec<(String,)> = sqlx::query_as("SELECT key_hash FROM api_keys").fetch_all(&mut *conn).await.unwrap();
    assert!(stored.iter().all(|(h,)| h.len() == 64 && !h.contains(key)));
    let audit: Vec<(String,)> = sqlx::query_as("SELECT changes FROM audit_events").fetch_all(&mut *conn).await.unwrap();
    assert!(!audit.is_empty() && audit.iter().all(|(c,)| !c.contains(key)), "audit events never hold a plaintext");
    assert_eq!(s.verify(key).await["code"], "VALID");
    drop(conn);
    s.stop().await;
}

async fn list_pages_newest_first_with_cursor_headers(backend: Backend) {
    let s = TestServer::start(backend).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(id_of(&s.create_key(json!({"name": format!("k{i}")})).await));
    }
    let mut seen = Vec::new();
    let mut path = "/v1/api-keys?limit=2".to_string();
    for _ in 0..10 {
        let page = s.get(&path, &s.admin_key).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let items = page.body.as_array().unwrap();
        seen.extend(items.iter().map(id_of));
        match page.header("x-next-cursor") {
            Some(cursor) => {
                assert_eq!(cursor, seen.last().unwrap());
                let link = page.header("link").expect("Link header with the cursor");
                assert!(link.contains(&format!("starting_after={cursor}")) && link.ends_with("rel=\"next\""), "{link}");
                path = format!("/v1/api-keys?limit=2&starting_after={cursor}");
            }
            None => {
                assert!(page.header("link").is_none());
                break;
            }
        }
    }
    assert_eq!(seen.len(), 6, "five keys plus the bootstrap admin key");
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(&seen[..5], &newest_first[..]);
    for bad in
        ["/v1/api-keys?limit=0", "/v1/api-keys?limit=201", "/v1/api-keys?starting_after=nope", "/v1/api-keys?limit=x"]
    {
        let r = s.get(bad, &s.admin_key).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        let field = if bad.contains("starting_after") { "starting_after" } else { "limit" };
        assert!(r.error_message().contains(field), "{bad}: {}", r.body);
    }
    s.stop().await;
}

async fn update_disable_and_reenable(backend: Backend) {
    let s = TestServer::start(backend).await;
    let created = s.create_key(json!({"name": "svc"})).await;
    let (id, key) = (id_of(&created), created["key"].as_str().unwrap().to_string());
    let r = s
        .patch(
            &format!("/v1/api-keys/{id}"),
            &s.admin_key,
            json!({"name": "renamed", "scopes": ["a:b"], "meta": {"team": "x"}, "device_name": "laptop"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!((r.body["name"].as_str(), r.body["meta"]["team"].as_str()), (Some("renamed"), Some("x")));
    assert_eq!(r.body["scopes"], json!(["a:b"]));
    let r = s.patch(&format!("/v1/api-keys/{id}"), &s.admin_key, json!({"is_active": false})).await;
    assert_eq!(r.body["is_active"], false);
    assert_eq!(s.verify(&key).await["code"], "DISABLED");
    let r = s.patch(&format!("/v1/api-keys/{id}"), &s.admin_key, json!({"is_active": true, "device_name": null})).await;
    assert_eq!((r.body["is_active"].clone(), r.body["device_name"].clone()), (json!(true), Value::Null));
    assert_eq!(s.verify(&key).await["code"], "VALID");
    s.stop().await;
}

async fn revoke_is_idempotent_and_final(backend: Backend) {
    let s = TestServer::start(backend).await;
    let created = s.create_key(json!({"name": "svc", "scopes": ["*"]})).await;
    let (id, key) = (id_of(&created), created["key"].as_str().unwrap().to_string());
    assert_eq!(s.get("/v1/api-keys", &key).await.status, StatusCode::OK, "a live key authenticates");
    for _ in 0..2 {
        let r = s.delete(&format!("/v1/api-keys/{id}"), &s.admin_key).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
    let v = s.verify(&key).await;
    assert_eq!((v["valid"].clone(), v["code"].clone()), (json!(false), json!("REVOKED")));
    let r = s.get("/v1/api-keys", &key).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a revoked key no longer authenticates");
    let got = s.get(&format!("/v1/api-keys/{id}"), &s.admin_key).await;
    assert!(got.body["revoked_at"].is_string() && got.body["is_active"] == false);
    let r = s.patch(&format!("/v1/api-keys/{id}"), &s.admin_key, json!({"name": "x"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = s.post(&format!("/v1/api-keys/{id}/regenerate"), &s.admin_key, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = s.post(&format!("/v1/api-keys/{id}/rotate"), &s.admin_key, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    s.stop().await;
}

async fn regenerate_keeps_the_id_and_kills_the_old_secret(backend: Backend) {
    let s = TestServer::start(backend).await;
    let created = s.create_key(json!({"name": "svc"})).await;
    let (id, old) = (id_of(&created), created["key"].as_str().unwrap().to_string());
    assert_eq!(s.verify(&old).await["code"], "VALID");
    let r = s.call(Method::POST, &format!("/v1/api-keys/{id}/regenerate"), &s.admin_key, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = r.body["key"].as_str().unwrap();
    assert_eq!(id_of(&r.body), id);
    assert_ne!(new, old);
    assert_eq!(s.verify(&old).await["code"], "NOT_FOUND");
    assert_eq!(s.verify(new).await["code"], "VALID");
    s.stop().await;
}

async fn rotate_with_and_without_grace(backend: Backend) {
    // A manual clock: the grace period below ends when the test says, not after a sleep.
    let clock = manual_clock();
    let s = TestServer::start_with(backend, |c| c.clock = clock.clone()).await;
    // Without a grace period the old key is revoked at once.
    let a = s.create_key(json!({"name": "a", "scopes": ["x"], "meta": {"m": 1}})).await;
    let r = s.post(&format!("/v1/api-keys/{}/rotate", id_of(&a)), &s.admin_key, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["old_key_id"], a["id"]);
    assert_ne!(r.body["new_key_id"], a["id"]);
    assert_eq!((r.body["name"].clone(), r.body["scopes"].clone()), (json!("a"), json!(["x"])));
    assert_eq!(r.body["grace_expires_at"], Value::Null);
    assert_eq!(s.verify(a["key"].as_str().unwrap()).await["code"], "REVOKED");
    let new_key = r.body["key"].as_str().unwrap();
    let v = s.verify(new_key).await;
    assert_eq!((v["code"].clone(), v["meta"]["m"].clone()), (json!("VALID"), json!(1)));
    let old = s.get(&format!("/v1/api-keys/{}", id_of(&a)), &s.admin_key).await;
    assert_eq!(old.body["replaced_by_key_id"], r.body["new_key_id"]);
    let new = s.get(&format!("/v1/api-keys/{}", r.body["new_key_id"].as_str().unwrap()), &s.admin_key).await;
    assert_eq!(new.body["source"], "rotation");

    // With a grace period the old key verifies until it ends, then REVOKED.
    let b = s.create_key(json!({"name": "b"})).await;
    let r =
        s.post(&format!("/v1/api-keys/{}/rotate", id_of(&b)), &s.admin_key, json!({"grace_period_seconds": 2})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.body["grace_expires_at"].is_string());
    let v = s.verify(b["key"].as_str().unwrap()).await;
    assert_eq!(v["code"], "VALID");
    assert_eq!(v["grace_expires_at"], r.body["grace_expires_at"]);
    let again = s.post(&format!("/v1/api-keys/{}/rotate", id_of(&b)), &s.admin_key, json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a replaced key cannot be rotated again");
    again.error_message();
    assert_eq!(s.verify(b["key"].as_str().unwrap()).await["code"], "VALID", "still within the grace period");
    clock.advance(2_300);
    assert_eq!(s.verify(b["key"].as_str().unwrap()).await["code"], "REVOKED");
    assert_eq!(s.verify(r.body["key"].as_str().unwrap()).await["code"], "VALID");
    s.stop().await;
}

async fn verify_codes(backend: Backend) {
    let clock = manual_clock();
    let s = TestServer::start_with(backend, |c| c.clock = clock.clone()).await;
    let v = s.verify("not-a-key").await;
    assert_eq!(
        (v["valid"].clone(), v["code"].clone(), v["key_id"].clone()),
        (json!(false), json!("MALFORMED"), Value::Null)
    );
    // Well-formed (checksum ok) but unknown.
    let unknown = keyward_server::keyfmt::generate("kw", "live").into_plaintext();
    assert_eq!(s.verify(&unknown).await["code"], "NOT_FOUND");
    let k = s
        .create_key(
            json!({"name": "ip", "allowed_ips": ["10.0.0.0/8", "2001:db8::/32"], "scopes": ["keys:read", "billing:*"]}),
        )
        .await;
    let key = k["key"].as_str().unwrap();
    let check = |body: Value| async { s.post("/v1/keys/verify", &s.admin_key, body).await.body["code"].clone() };
    assert_eq!(check(json!({"key": key, "ip": "10.1.2.3"})).await, "VALID");
    assert_eq!(check(json!({"key": key, "ip": "2001:db8::1"})).await, "VALID");
    assert_eq!(check(json!({"key": key, "ip": "11.0.0.1"})).await, "FORBIDDEN_IP");
    assert_eq!(check(json!({"key": key})).await, "FORBIDDEN_IP");
    assert_eq!(
        check(json!({"key": key, "ip": "10.0.0.1", "required_scopes": ["keys:read", "billing:charge"]})).await,
        "VALID"
    );
    assert_eq!(
        check(json!({"key": key, "ip": "10.0.0.1", "required_scopes": ["keys:write"]})).await,
        "INSUFFICIENT_SCOPES"
    );
    let r = s.post("/v1/keys/verify", &s.admin_key, json!({"key": key, "ip": "10.0.0.300"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error_message().starts_with("ip"));
    let e = s.create_key(json!({"name": "short", "expires_at": keyward_server::domain::time::ms_to_time(clock.now_ms() + 1200).to_rfc3339()})).await;
    assert_eq!(s.verify(e["key"].as_str().unwrap()).await["code"], "VALID");
    clock.advance(2000);
    let v = s.verify(e["key"].as_str().unwrap()).await;
    assert_eq!((v["code"].clone(), v["key_id"].clone()), (json!("EXPIRED"), e["id"].clone()));
    s.stop().await;
}

async fn scopes_gate_the_api(backend: Backend) {
    let s = TestServer::start(backend).await;
    let reader = s.create_key(json!({"name": "reader", "scopes": ["keys:read"]})).await;
    let reader = reader["key"].as_str().unwrap();
    assert_eq!(s.get("/v1/api-keys", reader).await.status, StatusCode::OK);
    let r = s.post("/v1/api-keys", reader, json!({"name": "x"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.error_message().contains("keys:write"));
    assert_eq!(s.post("/v1/keys/verify", reader, json!({"key": reader})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(s.get("/v1/projects", reader).await.status, StatusCode::FORBIDDEN);
    let verifier = s.create_key(json!({"name": "verifier", "scopes": ["keys:verify"]})).await;
    let verifier = verifier["key"].as_str().unwrap();
    assert_eq!(s.post("/v1/keys/verify", verifier, json!({"key": reader})).await.body["code"], "VALID");
    assert_eq!(s.get("/v1/api-keys", verifier).await.status, StatusCode::FORBIDDEN);
    let writer = s.create_key(json!({"name": "writer", "scopes": ["keys:*"]})).await;
    let writer = writer["key"].as_str().unwrap();
    assert_eq!(s.post("/v1/api-keys", writer, json!({"name": "x"})).await.status, StatusCode::CREATED);
    s.stop().await;
}

async fn tenants_are_isolated(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (org_b, admin_b) = s.new_tenant("Tenant B").await;
    let a = s.create_key(json!({"name": "a"})).await;
    let a_id = id_of(&a);
    for r in [
        s.get(&format!("/v1/api-keys/{a_id}"), &admin_b).await,
        s.patch(&format!("/v1/api-keys/{a_id}"), &admin_b, json!({"name": "pwned"})).await,
        s.delete(&format!("/v1/api-keys/{a_id}"), &admin_b).await,
        s.post(&format!("/v1/api-keys/{a_id}/regenerate"), &admin_b, json!({})).await,
        s.post(&format!("/v1/api-keys/{a_id}/rotate"), &admin_b, json!({})).await,
        s.get(&format!("/v1/organizations/{}/api-keys", s.organization_id), &admin_b).await,
        s.delete(&format!("/v1/organizations/{}/api-keys/{a_id}", s.organization_id), &admin_b).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
        r.error_message();
    }
    let v = s.post("/v1/keys/verify", &admin_b, json!({"key": a["key"]})).await;
    assert_eq!((v.body["code"].clone(), v.body["key_id"].clone()), (json!("NOT_FOUND"), Value::Null));
    let listed = s.get("/v1/api-keys", &admin_b).await;
    assert!(listed.body.as_array().unwrap().iter().all(|k| k["organization_id"] == json!(org_b)));
    // Nothing changed for tenant A.
    let still = s.get(&format!("/v1/api-keys/{a_id}"), &s.admin_key).await;
    assert_eq!((still.body["name"].clone(), still.body["revoked_at"].clone()), (json!("a"), Value::Null));
    assert_eq!(s.verify(a["key"].as_str().unwrap()).await["code"], "VALID");
    s.stop().await;
}

async fn project_keys_are_confined_to_their_project(backend: Backend) {
    let s = TestServer::start(backend).await;
    let p1 = s.post("/v1/projects", &s.admin_key, json!({"name": "Krossover", "key_prefix": "kros"})).await;
    assert_eq!(p1.status, StatusCode::CREATED, "{}", p1.body);
    let p2 = s
        .post(
            "/v1/projects",
            &s.admin_key,
            json!({"name": "Capybara", "key_prefix": "capy", "default_scopes": ["read"]}),
        )
        .await;
    let dup = s.post("/v1/projects", &s.admin_key, json!({"name": "again", "key_prefix": "kros"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let (p1, p2) = (id_of(&p1.body), id_of(&p2.body));
    let k1 = s.create_key(json!({"name": "p1 admin", "project_id": p1, "scopes": ["*"]})).await;
    assert!(k1["key"].as_str().unwrap().starts_with("kros_live_"));
    let k2 = s.create_key(json!({"name": "p2 key", "project_id": p2, "environment": "test"})).await;
    assert!(k2["key"].as_str().unwrap().starts_with("capy_test_"));
    assert_eq!(k2["scopes"], json!(["read"]), "project default scopes apply");
    let p1_key = k1["key"].as_str().unwrap();
    // Created without project_id by a project key: lands in that project.
    let own = s.post("/v1/api-keys", p1_key, json!({"name": "child"})).await;
    assert_eq!(own.body["project_id"], json!(p1));
    assert_eq!(
        s.post("/v1/api-keys", p1_key, json!({"name": "x", "project_id": p2})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.get(&format!("/v1/api-keys/{}", id_of(&k2)), p1_key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.delete(&format!("/v1/api-keys/{}", id_of(&k2)), p1_key).await.status, StatusCode::NOT_FOUND);
    assert_eq!(s.post("/v1/keys/verify", p1_key, json!({"key": k2["key"]})).await.body["code"], "NOT_FOUND");
    assert_eq!(s.post("/v1/keys/verify", p1_key, json!({"key": own.body["key"]})).await.body["code"], "VALID");
    let listed = s.get("/v1/api-keys", p1_key).await;
    let projects: Vec<Value> = listed.body.as_array().unwrap().iter().map(|k| k["project_id"].clone()).collect();
    assert!(projects.len() == 2 && projects.iter().all(|p| *p == json!(p1)), "{projects:?}");
    assert_eq!(s.get(&format!("/v1/api-keys?project_id={p2}"), p1_key).await.body, json!([]));
    // The org-wide admin filters by project and environment.
    let r = s.get(&format!("/v1/api-keys?project_id={p2}&environment=test"), &s.admin_key).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(s.get(&format!("/v1/projects/{p2}"), p1_key).await.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

async fn organization_family_envelopes(backend: Backend) {
    let s = TestServer::start(backend).await;
    let base = format!("/v1/organizations/{}/api-keys", s.organization_id);
    let r = s.post(&base, &s.admin_key, json!({"name": "org key", "scopes": ["keys:read"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let plaintext = r.body["plaintext_api_key"].as_str().unwrap().to_string();
    let id = id_of(&r.body["api_key"]);
    assert!(r.body["api_key"].get("key").is_none());
    for i in 0..3 {
        s.post(&base, &s.admin_key, json!({"name": format!("more {i}"), "scopes": []})).await;
    }
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=2&cursor={c}"),
            None => format!("{base}?limit=2"),
        };
        let page = s.get(&path, &s.admin_key).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        all.extend(page.body["api_keys"].as_array().unwrap().iter().map(id_of));
        cursor = page.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), 5);
    let r = s.delete(&format!("{base}/{id}"), &s.admin_key).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({"revoked": true})));
    assert_eq!(s.delete(&format!("{base}/{id}"), &s.admin_key).await.body, json!({"revoked": true}));
    assert_eq!(s.verify(&plaintext).await["code"], "REVOKED");
    s.stop().await;
}

async fn validation_errors_name_the_field_and_store_nothing(backend: Backend) {
    let s = TestServer::start(backend).await;
    let before = s.get("/v1/api-keys", &s.admin_key).await.body.as_array().unwrap().len();
    let big_meta: serde_json::Map<String, Value> = (0..300).map(|i| (format!("k{i}"), json!("xxxxxxxxxx"))).collect();
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({}), "name"),
        (json!({"name": "x", "scopes": ["Bad Scope"]}), "scopes[0]"),
        (json!({"name": "x", "scopes": "keys:read"}), "scopes"),
        (json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"name": "x", "expires_at": "tomorrow"}), "expires_at"),
        (json!({"name": "x", "allowed_ips": ["10.0.0.0/33"]}), "allowed_ips[0]"),
        (json!({"name": "x", "allowed_ips": ["not-an-ip"]}), "allowed_ips[0]"),
        (json!({"name": "x", "meta": [1, 2]}), "meta"),
        (json!({"name": "x", "meta": big_meta}), "meta"),
        (json!({"name": "x", "environment": "Bad_Env"}), "environment"),
        (json!({"name": "x", "source": "bogus"}), "source"),
        (json!({"name": "x", "project_id": "nope"}), "project_id"),
        (json!({"name": "x", "rate_limit": {"limit": 0, "window_ms": 1000}}), "rate_limit.limit"),
        (json!({"name": "x", "usage_limit": {"remaining": -1}}), "usage_limit.remaining"),
        (json!({"name": "x", "rotation_interval_days": 0}), "rotation_interval_days"),
        (json!({"name": "x", "rotation_webhook_url": "ftp://x"}), "rotation_webhook_url"),
        (json!({"name": "x", "scope": ["typo"]}), "scope"),
    ];
    for (body, field) in cases {
        let r = s.post("/v1/api-keys", &s.admin_key, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert!(r.error_message().contains(field), "{body}: message `{}` should name `{field}`", r.body["error"]);
        assert_eq!(r.body["code"], "invalid_request");
    }
    // A well-formed environment name that does not exist is not found, like an unknown project.
    let missing = s.post("/v1/api-keys", &s.admin_key, json!({"name": "x", "environment": "staging"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert_eq!(missing.body["code"], "not_found");
    let broken =
        s.raw(Method::POST, "/v1/api-keys").bearer_auth(&s.admin_key).body("{\"name\": ").send().await.unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let too_big =
        s.raw(Method::POST, "/v1/api-keys").bearer_auth(&s.admin_key).body(vec![b' '; 70 * 1024]).send().await.unwrap();
    let too_big = keyward_tests::Response::read(too_big).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    too_big.error_message();
    let id = id_of(&s.create_key(json!({"name": "patchme"})).await);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"is_active": "no"}), "is_active"),
        (json!({"allowed_ips": ["::/129"]}), "allowed_ips[0]"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        // `null` clears only what the spec marks nullable; elsewhere it is refused, not ignored.
        (json!({"name": null}), "name"),
        (json!({"scopes": null}), "scopes"),
        (json!({"meta": null}), "meta"),
    ] {
        let r = s.patch(&format!("/v1/api-keys/{id}"), &s.admin_key, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(r.error_message().contains(field), "{body}: {}", r.body);
    }
    let r = s.post(&format!("/v1/api-keys/{id}/rotate"), &s.admin_key, json!({"grace_period_seconds": -5})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error_message().contains("grace_period_seconds"));
    let after = s.get("/v1/api-keys", &s.admin_key).await.body.as_array().unwrap().len();
    assert_eq!(after, before + 1, "only the one valid create stored a key");
    assert_eq!(s.get(&format!("/v1/api-keys/{id}"), &s.admin_key).await.body["name"], "patchme");
    s.stop().await;
}

async fn error_shapes_and_public_routes(backend: Backend) {
    let s = TestServer::start(backend).await;
    for path in ["/healthz", "/readyz", "/openapi.json", "/docs"] {
        let r = s.raw(Method::GET, path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path} answers without credentials");
        assert!(r.headers().contains_key("x-request-id"));
    }
    let spec: Value = s.raw(Method::GET, "/openapi.json").send().await.unwrap().json().await.unwrap();
    assert_eq!(spec, serde_json::to_value(keyward_server::openapi()).unwrap());
    let r = keyward_tests::Response::read(s.raw(Method::GET, "/v1/api-keys").send().await.unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["request_id"].as_str(), r.header("x-request-id"));
    let r = s.get("/v1/api-keys", "kw_live_garbage").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.body.to_string().contains("garbage"), "errors do not echo credentials");
    let r = s.get("/v1/nothing-here", &s.admin_key).await;
    assert_eq!((r.status, r.body["code"].clone()), (StatusCode::NOT_FOUND, json!("not_found")));
    let r = s.call(Method::PUT, "/v1/api-keys", &s.admin_key, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    r.error_message();
    let r = s.get("/v1/api-keys/not-a-uuid", &s.admin_key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s.get(&format!("/v1/api-keys/{}", uuid::Uuid::now_v7()), &s.admin_key).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let custom = s.raw(Method::GET, "/healthz").header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(custom.headers()["x-request-id"], "trace-123");
    s.stop().await;
}

backend_tests!(
    plaintext_is_shown_once_and_reads_are_masked,
    list_pages_newest_first_with_cursor_headers,
    update_disable_and_reenable,
    revoke_is_idempotent_and_final,
    regenerate_keeps_the_id_and_kills_the_old_secret,
    rotate_with_and_without_grace,
    verify_codes,
    scopes_gate_the_api,
    tenants_are_isolated,
    project_keys_are_confined_to_their_project,
    organization_family_envelopes,
    validation_errors_name_the_field_and_store_nothing,
    error_shapes_and_public_routes,
);
