//! Session JWTs, organizations, members, roles, environments, deletions and
//! the audit log, end to end over a real socket on every backend.
//!
//! Tokens are minted here: HS256 with a test secret, and RS256/ES256 with the
//! fixture keys under `tests/fixtures/`, published by a JWKS endpoint this
//! suite serves on a loopback listener.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, jwk::Jwk};
use keyward_server::config::SecretString;
use keyward_tests::{Backend, Response, TestServer, backend_tests, json};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PATCH: Method = Method::PATCH;
const DELETE: Method = Method::DELETE;

const SECRET: &str = "keyward-test-session-secret";
const RS256_PEM: &[u8] = include_bytes!("../fixtures/jwt_rs256.pem");
const RS256_OTHER_PEM: &[u8] = include_bytes!("../fixtures/jwt_rs256_other.pem");
const ES256_PEM: &[u8] = include_bytes!("../fixtures/jwt_es256.pem");

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs_with(secret: &str, claims: Value) -> String {
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret.as_bytes())).expect("sign HS256")
}

fn hs(claims: Value) -> String {
    hs_with(SECRET, claims)
}

/// A 10-minute session for `sub`.
fn user(sub: &str) -> String {
    hs(json!({"sub": sub, "exp": now() + 600}))
}

fn user_with_org_claim(sub: &str, org: &str) -> String {
    hs(json!({"sub": sub, "exp": now() + 600, "org_id": org}))
}

async fn start(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| c.jwt_secret = Some(SecretString(SECRET.into()))).await
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("id in {v}")).to_string()
}

async fn req(s: &TestServer, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
    s.call(method, path, token, body).await
}

/// Asserts the status (and the common error shape for errors) and returns the response.
async fn expect(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Response {
    let r = req(s, token, method.clone(), path, body).await;
    assert_eq!(r.status, status, "{method} {path} answered {}", r.body);
    if status.is_client_error() {
        r.error_message();
    }
    r
}

async fn create_org(s: &TestServer, token: &str, name: &str) -> String {
    let r = expect(s, token, Method::POST, "/v1/organizations", Some(json!({"name": name})), StatusCode::CREATED).await;
    assert_eq!(r.body["role"], "owner");
    id_of(&r.body)
}

async fn add_member(s: &TestServer, token: &str, org: &str, user_id: &str, role: &str) {
    let path = format!("/v1/organizations/{org}/members");
    let r = expect(s, token, Method::POST, &path, Some(json!({"user_id": user_id, "role": role})), StatusCode::CREATED)
        .await;
    assert_eq!(r.body["user_id"], user_id);
    assert_eq!(r.body["role"], role);
}

async fn create_key(s: &TestServer, token: &str, body: Value) -> Value {
    expect(s, token, Method::POST, "/v1/api-keys", Some(body), StatusCode::CREATED).await.body
}

// ---------------------------------------------------------------- HS256

async fn hs256_sessions_and_refusals(backend: Backend) {
    let s = start(backend).await;
    // A valid session with no organization yet: an empty list, not an error.
    let r = expect(&s, &user("alice"), Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(r.body, json!([]));
    // Without an organization, anything else is refused with a hint.
    let r = expect(&s, &user("alice"), Method::GET, "/v1/api-keys", None, StatusCode::FORBIDDEN).await;
    assert!(r.error_message().contains("POST /v1/organizations"), "{}", r.body);
    // `aud`/`iss` are not checked when not configured, even when present.
    let with_aud = hs(json!({"sub": "alice", "exp": now() + 600, "aud": "someone-else", "iss": "whoever"}));
    expect(&s, &with_aud, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    // 60 s of leeway on `exp`.
    expect(&s, &hs(json!({"sub": "alice", "exp": now() - 20})), Method::GET, "/v1/organizations", None, StatusCode::OK)
        .await;

    let refused = [
        (hs(json!({"sub": "alice", "exp": now() - 300})), "expired"),
        (hs_with("not-the-secret", json!({"sub": "alice", "exp": now() + 600})), "signature"),
        ("definitely.not.a-jwt".to_string(), "malformed"),
        ("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.".to_string(), "malformed"),
        (hs(json!({"exp": now() + 600})), "`sub`"),
        (hs(json!({"sub": "alice"})), "`exp`"),
        (hs(json!({"sub": "alice", "exp": now() + 600, "nbf": now() + 600})), "not valid yet"),
    ];
    for (token, why) in &refused {
        let r = expect(&s, token, Method::GET, "/v1/organizations", None, StatusCode::UNAUTHORIZED).await;
        assert_eq!(r.body["code"], "unauthenticated");
        let message = r.error_message();
        assert!(message.contains(why), "expected `{why}` in {message}");
        assert!(!message.contains(token.as_str()), "the message never echoes the token");
    }
    // A session JWT is only read from `Authorization: Bearer`.
    let r = s.raw(Method::GET, "/v1/organizations").header("x-api-key", user("alice")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;

    // With an audience and an issuer configured, both are required and checked.
    let s = TestServer::start_with(backend, |c| {
        c.jwt_secret = Some(SecretString(SECRET.into()));
        c.jwt_audience = Some("keyward, dashboard".into());
        c.jwt_issuer = Some("https://issuer.test".into());
    })
    .await;
    let ok = hs(json!({"sub": "alice", "exp": now() + 600, "aud": "dashboard", "iss": "https://issuer.test"}));
    expect(&s, &ok, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    let ok_list =
        hs(json!({"sub": "alice", "exp": now() + 600, "aud": ["other", "keyward"], "iss": "https://issuer.test"}));
    expect(&s, &ok_list, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    for (claims, why) in [
        (json!({"sub": "alice", "exp": now() + 600, "aud": "other", "iss": "https://issuer.test"}), "audience"),
        (json!({"sub": "alice", "exp": now() + 600, "aud": "keyward", "iss": "https://evil.test"}), "issuer"),
        (json!({"sub": "alice", "exp": now() + 600, "iss": "https://issuer.test"}), "`aud`"),
        (json!({"sub": "alice", "exp": now() + 600, "aud": "keyward"}), "`iss`"),
    ] {
        let r = expect(&s, &hs(claims), Method::GET, "/v1/organizations", None, StatusCode::UNAUTHORIZED).await;
        assert!(r.error_message().contains(why), "expected `{why}` in {}", r.body);
    }
    s.stop().await;

    // Sessions disabled: a non-key bearer is simply not a valid key.
    let s = TestServer::start(backend).await;
    let r = expect(&s, &user("alice"), Method::GET, "/v1/organizations", None, StatusCode::UNAUTHORIZED).await;
    assert!(r.error_message().contains("not a valid keyward API key"), "{}", r.body);
    // API keys work exactly as before.
    expect(&s, &s.admin_key, Method::GET, "/v1/api-keys", None, StatusCode::OK).await;
    s.stop().await;
}

// ---------------------------------------------------------------- JWKS

struct JwksServer {
    url: String,
    body: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

async fn serve_jwks(initial: Value) -> JwksServer {
    let body = Arc::new(Mutex::new(initial));
    let hits = Arc::new(AtomicUsize::new(0));
    let app = {
        let (body, hits) = (body.clone(), hits.clone());
        axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let (body, hits) = (body.clone(), hits.clone());
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    axum::Json(body.lock().unwrap().clone())
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    JwksServer { url: format!("http://{addr}/.well-known/jwks.json"), body, hits }
}

fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("public JWK");
    jwk.common.key_id = Some(kid.to_string());
    serde_json::to_value(jwk).unwrap()
}

fn sign(key: &EncodingKey, alg: Algorithm, kid: Option<&str>, claims: Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, &claims, key).expect("sign")
}

async fn jwks_rs256_and_es256(backend: Backend) {
    let rsa = EncodingKey::from_rsa_pem(RS256_PEM).unwrap();
    let rsa_other = EncodingKey::from_rsa_pem(RS256_OTHER_PEM).unwrap();
    let ec = EncodingKey::from_ec_pem(ES256_PEM).unwrap();
    let jwks = serve_jwks(
        json!({"keys": [public_jwk(&rsa, Algorithm::RS256, "rsa-1"), public_jwk(&ec, Algorithm::ES256, "ec-1")]}),
    )
    .await;
    let url = jwks.url.clone();
    let s = TestServer::start_with(backend, move |c| {
        c.jwks_url = Some(url);
        c.jwks_min_refresh_interval = Duration::from_secs(1);
    })
    .await;
    let claims = |sub: &str| json!({"sub": sub, "exp": now() + 600});

    // Both algorithms verify against the published keys; the user id is `sub`.
    let rs = sign(&rsa, Algorithm::RS256, Some("rsa-1"), claims("rita"));
    let org = create_org(&s, &rs, "RSA org").await;
    let es = sign(&ec, Algorithm::ES256, Some("ec-1"), claims("rita"));
    let r = expect(&s, &es, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(r.body[0]["id"], org.as_str());
    // No `kid`: the keys of the token's algorithm are tried.
    let no_kid = sign(&rsa, Algorithm::RS256, None, claims("rita"));
    expect(&s, &no_kid, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(jwks.hits.load(Ordering::SeqCst), 1, "the JWKS is fetched once and cached");

    let refused = [
        (sign(&rsa_other, Algorithm::RS256, Some("rsa-1"), claims("rita")), "signature"),
        (sign(&ec, Algorithm::ES256, Some("rsa-1"), claims("rita")), "algorithm"),
        (sign(&rsa, Algorithm::RS256, Some("rsa-1"), json!({"sub": "rita", "exp": now() - 300})), "expired"),
        (hs(claims("rita")), "HS256"),
    ];
    for (token, why) in &refused {
        let r = expect(&s, token, Method::GET, "/v1/organizations", None, StatusCode::UNAUTHORIZED).await;
        assert!(r.error_message().contains(why), "expected `{why}` in {}", r.body);
    }

    // Unknown `kid`s trigger a refetch, but at most one per interval.
    let rotated = sign(&rsa_other, Algorithm::RS256, Some("rsa-2"), claims("rita"));
    for _ in 0..5 {
        let r = expect(&s, &rotated, Method::GET, "/v1/organizations", None, StatusCode::UNAUTHORIZED).await;
        assert!(r.error_message().contains("unknown"), "{}", r.body);
    }
    let hits = jwks.hits.load(Ordering::SeqCst);
    assert!(hits <= 3, "refetches are rate-bounded, saw {hits} fetches");
    // The provider rotates: once the interval has passed, the new key is picked up.
    jwks.body.lock().unwrap()["keys"].as_array_mut().unwrap().push(public_jwk(&rsa_other, Algorithm::RS256, "rsa-2"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = expect(&s, &rotated, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(r.body[0]["id"], org.as_str());
    s.stop().await;
}

// ---------------------------------------------------------------- organizations and context

async fn organizations_and_context_fallback(backend: Backend) {
    let s = start(backend).await;
    let alice = user("alice");
    let first = create_org(&s, &alice, "First").await;
    let r = expect(
        &s,
        &alice,
        Method::POST,
        "/v1/organizations",
        Some(json!({"name": "Second", "key_prefix": "sec"})),
        StatusCode::CREATED,
    )
    .await;
    let second = id_of(&r.body);
    assert_eq!(r.body["key_prefix"], "sec");
    expect(
        &s,
        &alice,
        Method::POST,
        "/v1/organizations",
        Some(json!({"name": "x", "key_prefix": "NO"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    expect(&s, &alice, Method::POST, "/v1/organizations", Some(json!({"name": ""})), StatusCode::BAD_REQUEST).await;

    // Listing: newest first, paginated, with the caller's role.
    let r = expect(&s, &alice, Method::GET, "/v1/organizations?limit=1", None, StatusCode::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["id"], second.as_str());
    assert_eq!(r.body[0]["role"], "owner");
    let cursor = r.header("x-next-cursor").expect("next cursor").to_string();
    let r = expect(
        &s,
        &alice,
        Method::GET,
        &format!("/v1/organizations?limit=1&starting_after={cursor}"),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r.body[0]["id"], first.as_str());
    assert!(r.header("x-next-cursor").is_none());

    // Both organizations got `live` and `test`.
    let key = create_key(&s, &alice, json!({"name": "t", "environment": "test"})).await;
    assert_eq!(key["environment"], "test");

    // 4. no header, no claim: the oldest membership.
    let key = create_key(&s, &alice, json!({"name": "default"})).await;
    assert_eq!(key["organization_id"], first.as_str());
    assert_eq!(key["created_by_user_id"], "alice");
    assert_eq!(key["source"], "dashboard");
    assert!(key["key"].as_str().unwrap().starts_with("kw_live_"));
    // 3. the Clerk-style claim.
    let claimed = user_with_org_claim("alice", &second);
    let key = create_key(&s, &claimed, json!({"name": "claim"})).await;
    assert_eq!(key["organization_id"], second.as_str());
    assert!(key["key"].as_str().unwrap().starts_with("sec_live_"));
    // 2. the header beats the claim.
    let r = s
        .call_with_headers(
            Method::POST,
            "/v1/api-keys",
            &claimed,
            Some(json!({"name": "header"})),
            &[("x-organization-id", &first)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["organization_id"], first.as_str());
    // 1. the path names the organization.
    let r = s
        .call_with_headers(
            Method::GET,
            &format!("/v1/organizations/{second}/api-keys"),
            &alice,
            None,
            &[("x-organization-id", &first)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["api_keys"].as_array().unwrap().iter().all(|k| k["organization_id"] == second.as_str()));
    // Not a member (header, claim, or an unknown id) → 404.
    let strangers = create_org(&s, &user("mallory"), "Mallory's").await;
    for header in [strangers.as_str(), "not-a-uuid", "0193a3c1-0000-7000-8000-000000000000"] {
        let r = s.call_with_headers(Method::GET, "/v1/api-keys", &alice, None, &[("x-organization-id", header)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{header}: {}", r.body);
    }
    let r = req(&s, &user_with_org_claim("alice", &strangers), Method::GET, "/v1/api-keys", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // An API key lists only its own organization and cannot create one.
    let r = expect(&s, &s.admin_key, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["id"], s.organization_id.as_str());
    assert_eq!(r.body[0]["role"], Value::Null);
    expect(&s, &s.admin_key, Method::POST, "/v1/organizations", Some(json!({"name": "nope"})), StatusCode::FORBIDDEN)
        .await;
    let r = expect(
        &s,
        &s.admin_key,
        Method::GET,
        &format!("/v1/organizations/{}", s.organization_id),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(r.body["name"], "Test organization");
    s.stop().await;
}

// ---------------------------------------------------------------- roles

async fn each_role_allowed_and_denied(backend: Backend) {
    use StatusCode as S;
    let s = start(backend).await;
    let (owner, admin, member, viewer) = (user("olivia"), user("adam"), user("mia"), user("vic"));
    let org = create_org(&s, &owner, "Acme").await;
    add_member(&s, &owner, &org, "adam", "admin").await;
    add_member(&s, &owner, &org, "mia", "member").await;
    add_member(&s, &owner, &org, "vic", "viewer").await;
    let owners_key = create_key(&s, &owner, json!({"name": "owner's"})).await;
    let owners_key_id = id_of(&owners_key);
    let plaintext = owners_key["key"].as_str().unwrap().to_string();
    let project = id_of(&expect(&s, &owner, POST, "/v1/projects", Some(json!({"name": "web"})), S::CREATED).await.body);
    let k = format!("/v1/api-keys/{owners_key_id}");
    let org_path = format!("/v1/organizations/{org}");
    let members = format!("{org_path}/members");
    let envs = format!("/v1/projects/{project}/environments");
    let verify = json!({"key": plaintext});

    // viewer: reads only.
    for path in ["/v1/api-keys", &k, "/v1/projects", &format!("/v1/projects/{project}"), &envs, &org_path, &members] {
        expect(&s, &viewer, GET, path, None, S::OK).await;
    }
    let r = expect(&s, &viewer, GET, &org_path, None, S::OK).await;
    assert_eq!(r.body["role"], "viewer");
    let r = expect(&s, &viewer, POST, "/v1/api-keys", Some(json!({"name": "v"})), S::FORBIDDEN).await;
    assert!(r.error_message().contains("viewer"), "{}", r.body);
    expect(&s, &viewer, PATCH, &k, Some(json!({"name": "v"})), S::FORBIDDEN).await;
    expect(&s, &viewer, DELETE, &k, None, S::FORBIDDEN).await;
    expect(&s, &viewer, POST, "/v1/projects", Some(json!({"name": "v"})), S::FORBIDDEN).await;
    expect(&s, &viewer, POST, &envs, Some(json!({"name": "v"})), S::FORBIDDEN).await;
    expect(&s, &viewer, GET, "/v1/audit-events", None, S::FORBIDDEN).await;
    expect(&s, &viewer, POST, &members, Some(json!({"user_id": "x", "role": "viewer"})), S::FORBIDDEN).await;
    expect(&s, &viewer, PATCH, &org_path, Some(json!({"name": "v"})), S::FORBIDDEN).await;
    expect(&s, &viewer, POST, "/v1/keys/verify", Some(verify.clone()), S::FORBIDDEN).await;

    // member: own keys only; reads everything else.
    let mine = create_key(&s, &member, json!({"name": "mia's"})).await;
    assert_eq!(mine["created_by_user_id"], "mia");
    assert_eq!(mine["source"], "dashboard");
    let mine_path = format!("/v1/api-keys/{}", id_of(&mine));
    expect(&s, &member, PATCH, &mine_path, Some(json!({"name": "renamed"})), S::OK).await;
    expect(&s, &member, POST, &format!("{mine_path}/regenerate"), None, S::OK).await;
    let rotated = expect(&s, &member, POST, &format!("{mine_path}/rotate"), None, S::CREATED).await;
    let new_path = format!("/v1/api-keys/{}", rotated.body["new_key_id"].as_str().unwrap());
    let r = expect(&s, &member, GET, &new_path, None, S::OK).await;
    assert_eq!(r.body["created_by_user_id"], "mia", "the rotated key stays the member's");
    expect(&s, &member, DELETE, &new_path, None, S::NO_CONTENT).await;
    expect(&s, &member, GET, &k, None, S::OK).await;
    let r = expect(&s, &member, PATCH, &k, Some(json!({"name": "mine now"})), S::FORBIDDEN).await;
    assert!(r.error_message().contains("someone else"), "{}", r.body);
    expect(&s, &member, POST, &format!("{k}/rotate"), None, S::FORBIDDEN).await;
    expect(&s, &member, POST, &format!("{k}/regenerate"), None, S::FORBIDDEN).await;
    expect(&s, &member, DELETE, &k, None, S::FORBIDDEN).await;
    expect(&s, &member, DELETE, &format!("{org_path}/api-keys/{owners_key_id}"), None, S::FORBIDDEN).await;
    expect(&s, &member, POST, "/v1/projects", Some(json!({"name": "m"})), S::FORBIDDEN).await;
    expect(&s, &member, DELETE, &format!("/v1/projects/{project}"), None, S::FORBIDDEN).await;
    expect(&s, &member, POST, &envs, Some(json!({"name": "m"})), S::FORBIDDEN).await;
    expect(&s, &member, GET, "/v1/audit-events", None, S::FORBIDDEN).await;
    expect(&s, &member, POST, &members, Some(json!({"user_id": "x", "role": "viewer"})), S::FORBIDDEN).await;
    expect(&s, &member, PATCH, &org_path, Some(json!({"name": "m"})), S::FORBIDDEN).await;
    expect(&s, &member, DELETE, &org_path, None, S::FORBIDDEN).await;
    let r = expect(&s, &member, POST, "/v1/keys/verify", Some(verify.clone()), S::OK).await;
    assert_eq!(r.body["code"], "VALID");

    // admin: every key, projects, environments, audit; not members or the org.
    let members_key = create_key(&s, &member, json!({"name": "mia's second"})).await;
    let members_key_path = format!("/v1/api-keys/{}", id_of(&members_key));
    expect(&s, &admin, PATCH, &members_key_path, Some(json!({"name": "by admin"})), S::OK).await;
    expect(&s, &admin, DELETE, &members_key_path, None, S::NO_CONTENT).await;
    let p2 = id_of(&expect(&s, &admin, POST, "/v1/projects", Some(json!({"name": "api"})), S::CREATED).await.body);
    expect(&s, &admin, PATCH, &format!("/v1/projects/{p2}"), Some(json!({"name": "api2"})), S::OK).await;
    expect(&s, &admin, DELETE, &format!("/v1/projects/{p2}"), None, S::NO_CONTENT).await;
    expect(&s, &admin, POST, &envs, Some(json!({"name": "staging"})), S::CREATED).await;
    expect(&s, &admin, GET, "/v1/audit-events", None, S::OK).await;
    expect(&s, &admin, POST, &members, Some(json!({"user_id": "x", "role": "viewer"})), S::FORBIDDEN).await;
    expect(&s, &admin, PATCH, &format!("{members}/vic"), Some(json!({"role": "admin"})), S::FORBIDDEN).await;
    expect(&s, &admin, DELETE, &format!("{members}/vic"), None, S::FORBIDDEN).await;
    expect(&s, &admin, PATCH, &org_path, Some(json!({"name": "a"})), S::FORBIDDEN).await;
    expect(&s, &admin, DELETE, &org_path, None, S::FORBIDDEN).await;

    // owner: members and the organization.
    expect(&s, &owner, POST, &members, Some(json!({"user_id": "newbie", "role": "viewer"})), S::CREATED).await;
    let r = expect(&s, &owner, PATCH, &format!("{members}/newbie"), Some(json!({"role": "member"})), S::OK).await;
    assert_eq!(r.body["role"], "member");
    expect(&s, &owner, DELETE, &format!("{members}/newbie"), None, S::NO_CONTENT).await;
    let r = expect(&s, &owner, PATCH, &org_path, Some(json!({"name": "Acme Inc", "key_prefix": "acme"})), S::OK).await;
    assert_eq!(r.body["name"], "Acme Inc");
    assert!(create_key(&s, &owner, json!({"name": "p"})).await["key"].as_str().unwrap().starts_with("acme_live_"));
    expect(&s, &owner, POST, &members, Some(json!({"user_id": "x", "role": "emperor"})), S::BAD_REQUEST).await;
    expect(&s, &owner, POST, &members, Some(json!({"user_id": "", "role": "viewer"})), S::BAD_REQUEST).await;

    // Members list: newest first, cursor by user id.
    let r = expect(&s, &owner, GET, &format!("{members}?limit=2"), None, S::OK).await;
    assert_eq!(
        r.body.as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["vic", "mia"]
    );
    let cursor = r.header("x-next-cursor").expect("cursor").to_string();
    let r = expect(&s, &owner, GET, &format!("{members}?limit=2&starting_after={cursor}"), None, S::OK).await;
    assert_eq!(
        r.body.as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect::<Vec<_>>(),
        ["adam", "olivia"]
    );
    assert!(r.header("x-next-cursor").is_none());

    // API keys in the same organization: the scope table.
    let reader = create_key(&s, &owner, json!({"name": "reader", "scopes": ["keys:read"]})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    expect(&s, &reader, GET, "/v1/api-keys", None, S::OK).await;
    let r = expect(&s, &reader, GET, &members, None, S::FORBIDDEN).await;
    assert!(r.error_message().contains("orgs:admin"), "{}", r.body);
    expect(&s, &reader, GET, "/v1/audit-events", None, S::FORBIDDEN).await;
    expect(&s, &reader, GET, "/v1/projects", None, S::FORBIDDEN).await;
    let orgs_admin = create_key(&s, &owner, json!({"name": "orgs admin", "scopes": ["orgs:admin"]})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    expect(&s, &orgs_admin, GET, &members, None, S::OK).await;
    expect(&s, &orgs_admin, GET, "/v1/audit-events", None, S::OK).await;
    expect(&s, &orgs_admin, POST, &members, Some(json!({"user_id": "bykey", "role": "viewer"})), S::CREATED).await;
    expect(&s, &orgs_admin, POST, &envs, Some(json!({"name": "qa"})), S::CREATED).await;
    expect(&s, &orgs_admin, POST, "/v1/api-keys", Some(json!({"name": "k"})), S::FORBIDDEN).await;
    // A project key (even with `*`) cannot manage organization-level things.
    let project_key =
        create_key(&s, &owner, json!({"name": "proj", "scopes": ["*"], "project_id": project})).await["key"]
            .as_str()
            .unwrap()
            .to_string();
    expect(&s, &project_key, GET, "/v1/audit-events", None, S::FORBIDDEN).await;
    expect(&s, &project_key, POST, &members, Some(json!({"user_id": "p", "role": "viewer"})), S::FORBIDDEN).await;
    expect(&s, &project_key, DELETE, &format!("/v1/projects/{project}"), None, S::FORBIDDEN).await;
    s.stop().await;
}

async fn last_owner_is_protected(backend: Backend) {
    use StatusCode as S;
    let s = start(backend).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let org = create_org(&s, &alice, "Solo").await;
    let members = format!("/v1/organizations/{org}/members");
    let r = expect(&s, &alice, Method::PATCH, &format!("{members}/alice"), Some(json!({"role": "admin"})), S::CONFLICT)
        .await;
    assert!(r.error_message().contains("last owner"), "{}", r.body);
    expect(&s, &alice, Method::DELETE, &format!("{members}/alice"), None, S::CONFLICT).await;
    // Owner → owner is not a demotion.
    expect(&s, &alice, Method::PATCH, &format!("{members}/alice"), Some(json!({"role": "owner"})), S::OK).await;
    add_member(&s, &alice, &org, "bob", "owner").await;
    expect(&s, &alice, Method::POST, &members, Some(json!({"user_id": "bob", "role": "viewer"})), S::CONFLICT).await;
    expect(&s, &alice, Method::PATCH, &format!("{members}/nobody"), Some(json!({"role": "admin"})), S::NOT_FOUND).await;
    expect(&s, &alice, Method::DELETE, &format!("{members}/nobody"), None, S::NOT_FOUND).await;
    // With two owners, one can step down; then the other is the last.
    expect(&s, &alice, Method::PATCH, &format!("{members}/alice"), Some(json!({"role": "admin"})), S::OK).await;
    expect(&s, &bob, Method::DELETE, &format!("{members}/bob"), None, S::CONFLICT).await;
    expect(&s, &bob, Method::PATCH, &format!("{members}/bob"), Some(json!({"role": "viewer"})), S::CONFLICT).await;
    // Alice is an admin now: she can no longer manage members.
    expect(&s, &alice, Method::DELETE, &format!("{members}/bob"), None, S::FORBIDDEN).await;
    // Bob removes alice; alice loses access to the organization.
    expect(&s, &bob, Method::DELETE, &format!("{members}/alice"), None, S::NO_CONTENT).await;
    expect(&s, &alice, Method::GET, &format!("/v1/organizations/{org}"), None, S::NOT_FOUND).await;
    let r = expect(&s, &alice, Method::GET, "/v1/organizations", None, S::OK).await;
    assert_eq!(r.body, json!([]));
    s.stop().await;
}

// ---------------------------------------------------------------- tenancy

async fn other_tenants_objects_are_not_found(backend: Backend) {
    let s = start(backend).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let a = create_org(&s, &alice, "A").await;
    let b = create_org(&s, &bob, "B").await;
    add_member(&s, &bob, &b, "bobby", "viewer").await;
    let b_key = id_of(&create_key(&s, &bob, json!({"name": "b"})).await);
    let b_project =
        id_of(&expect(&s, &bob, POST, "/v1/projects", Some(json!({"name": "bp"})), StatusCode::CREATED).await.body);
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (GET, format!("/v1/api-keys/{b_key}"), None),
        (PATCH, format!("/v1/api-keys/{b_key}"), Some(json!({"name": "x"}))),
        (DELETE, format!("/v1/api-keys/{b_key}"), None),
        (POST, format!("/v1/api-keys/{b_key}/rotate"), None),
        (POST, format!("/v1/api-keys/{b_key}/regenerate"), None),
        (POST, "/v1/api-keys".into(), Some(json!({"name": "x", "project_id": b_project}))),
        (GET, format!("/v1/organizations/{b}/api-keys"), None),
        (POST, format!("/v1/organizations/{b}/api-keys"), Some(json!({"name": "x"}))),
        (DELETE, format!("/v1/organizations/{b}/api-keys/{b_key}"), None),
        (GET, format!("/v1/organizations/{b}"), None),
        (PATCH, format!("/v1/organizations/{b}"), Some(json!({"name": "x"}))),
        (DELETE, format!("/v1/organizations/{b}"), None),
        (GET, format!("/v1/organizations/{b}/members"), None),
        (POST, format!("/v1/organizations/{b}/members"), Some(json!({"user_id": "x", "role": "owner"}))),
        (PATCH, format!("/v1/organizations/{b}/members/bobby"), Some(json!({"role": "owner"}))),
        (DELETE, format!("/v1/organizations/{b}/members/bob"), None),
        (GET, format!("/v1/projects/{b_project}"), None),
        (PATCH, format!("/v1/projects/{b_project}"), Some(json!({"name": "x"}))),
        (DELETE, format!("/v1/projects/{b_project}"), None),
        (GET, format!("/v1/projects/{b_project}/environments"), None),
        (POST, format!("/v1/projects/{b_project}/environments"), Some(json!({"name": "x"}))),
    ];
    // A user of A, and the bootstrap org's admin key: both see nothing of B.
    for credential in [alice.as_str(), s.admin_key.as_str()] {
        for (method, path, body) in &attempts {
            let r = req(&s, credential, method.clone(), path, body.clone()).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path} answered {}", r.body);
            assert_eq!(r.body["code"], "not_found");
        }
    }
    let r = s.call_with_headers(GET, "/v1/api-keys", &alice, None, &[("x-organization-id", &b)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Lists show only one's own tenant.
    let r = expect(&s, &alice, GET, "/v1/api-keys", None, StatusCode::OK).await;
    assert!(r.body.as_array().unwrap().is_empty());
    let r = expect(&s, &alice, GET, "/v1/audit-events", None, StatusCode::OK).await;
    assert!(r.body.as_array().unwrap().iter().all(|e| e["organization_id"] == a.as_str()), "{}", r.body);
    let r = expect(&s, &alice, GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // B is untouched.
    expect(&s, &bob, GET, &format!("/v1/api-keys/{b_key}"), None, StatusCode::OK).await;
    let r = expect(&s, &bob, GET, &format!("/v1/organizations/{b}/members"), None, StatusCode::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    s.stop().await;
}

// ---------------------------------------------------------------- environments and deletions

async fn environments_per_organization(backend: Backend) {
    let s = start(backend).await;
    let alice = user("alice");
    create_org(&s, &alice, "Envs").await;
    let project = id_of(
        &expect(&s, &alice, Method::POST, "/v1/projects", Some(json!({"name": "p"})), StatusCode::CREATED).await.body,
    );
    let envs = format!("/v1/projects/{project}/environments");
    let r = expect(&s, &alice, Method::GET, &envs, None, StatusCode::OK).await;
    let mut names: Vec<&str> = r.body.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["live", "test"]);
    let r = expect(&s, &alice, Method::POST, &envs, Some(json!({"name": "staging2"})), StatusCode::CREATED).await;
    assert_eq!(r.body["name"], "staging2");
    for (bad, status) in [
        ("staging2", StatusCode::CONFLICT),
        ("live", StatusCode::CONFLICT),
        ("Staging", StatusCode::BAD_REQUEST),
        ("stag_ing", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
        ("abcdefghijklmnopq", StatusCode::BAD_REQUEST),
    ] {
        let r = expect(&s, &alice, Method::POST, &envs, Some(json!({"name": bad})), status).await;
        if status == StatusCode::BAD_REQUEST {
            assert!(r.error_message().starts_with("name"), "{}", r.body);
        }
    }
    // Newest first, paginated.
    let r = expect(&s, &alice, Method::GET, &format!("{envs}?limit=1"), None, StatusCode::OK).await;
    assert_eq!(r.body[0]["name"], "staging2");
    assert!(r.header("x-next-cursor").is_some());
    // Keys can live in the new environment.
    let key = create_key(&s, &alice, json!({"name": "s", "environment": "staging2"})).await;
    assert!(key["key"].as_str().unwrap().starts_with("kw_staging2_"), "{}", key["key"]);
    s.stop().await;
}

async fn deleting_projects_and_organizations_revokes_keys(backend: Backend) {
    let s = start(backend).await;
    let alice = user("alice");
    let org = create_org(&s, &alice, "Doomed").await;
    let project = id_of(
        &expect(&s, &alice, Method::POST, "/v1/projects", Some(json!({"name": "p"})), StatusCode::CREATED).await.body,
    );
    let in_project = create_key(&s, &alice, json!({"name": "in project", "project_id": project})).await;
    let org_wide = create_key(&s, &alice, json!({"name": "org wide", "scopes": ["*"]})).await;
    let (in_project_key, org_wide_key) = (in_project["key"].as_str().unwrap(), org_wide["key"].as_str().unwrap());
    let verify = |key: &str| json!({"key": key});
    let r =
        expect(&s, org_wide_key, Method::POST, "/v1/keys/verify", Some(verify(in_project_key)), StatusCode::OK).await;
    assert_eq!(r.body["code"], "VALID");

    expect(&s, &alice, Method::DELETE, &format!("/v1/projects/{project}"), None, StatusCode::NO_CONTENT).await;
    expect(&s, &alice, Method::GET, &format!("/v1/projects/{project}"), None, StatusCode::NOT_FOUND).await;
    expect(&s, &alice, Method::DELETE, &format!("/v1/projects/{project}"), None, StatusCode::NOT_FOUND).await;
    let r = expect(&s, &alice, Method::GET, "/v1/projects", None, StatusCode::OK).await;
    assert!(r.body.as_array().unwrap().is_empty());
    let r =
        expect(&s, org_wide_key, Method::POST, "/v1/keys/verify", Some(verify(in_project_key)), StatusCode::OK).await;
    assert_eq!(r.body["code"], "REVOKED", "a deleted project's keys stop verifying at once");
    let r =
        expect(&s, &alice, Method::GET, &format!("/v1/api-keys/{}", id_of(&in_project)), None, StatusCode::OK).await;
    assert_eq!(r.body["is_active"], false);

    // Deleting the organization revokes every key (including the caller's own kind).
    let other = create_key(&s, &alice, json!({"name": "other"})).await;
    let other_key = other["key"].as_str().unwrap().to_string();
    expect(&s, &alice, Method::DELETE, &format!("/v1/organizations/{org}"), None, StatusCode::NO_CONTENT).await;
    let r = s.verify(&other_key).await;
    assert_eq!(r["code"], "NOT_FOUND", "another tenant's verify never learns about it");
    let r = expect(&s, org_wide_key, Method::GET, "/v1/api-keys", None, StatusCode::UNAUTHORIZED).await;
    assert!(r.error_message().contains("revoked"), "{}", r.body);
    expect(&s, &alice, Method::GET, &format!("/v1/organizations/{org}"), None, StatusCode::NOT_FOUND).await;
    let r = expect(&s, &alice, Method::GET, "/v1/organizations", None, StatusCode::OK).await;
    assert_eq!(r.body, json!([]));
    let mut conn = s.state.store.pool().acquire().await.unwrap();
    let live: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM api_keys WHERE organization_id = $1 AND revoked_at IS NULL")
            .bind(&org)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    assert!(live.is_empty(), "every key of a deleted organization is revoked");
    drop(conn);
    s.stop().await;
}

// ---------------------------------------------------------------- audit

async fn audit_trail_of_every_mutation(backend: Backend) {
    use StatusCode as S;
    let s = start(backend).await;
    let (alice, vic) = (user("alice"), user("vic"));
    let mut secrets: Vec<String> = vec![alice.clone(), vic.clone(), SECRET.to_string()];
    let org = create_org(&s, &alice, "Audited").await;
    let members = format!("/v1/organizations/{org}/members");
    add_member(&s, &alice, &org, "vic", "viewer").await;
    expect(&s, &alice, PATCH, &format!("{members}/vic"), Some(json!({"role": "member"})), S::OK).await;
    let project = id_of(&expect(&s, &alice, POST, "/v1/projects", Some(json!({"name": "p"})), S::CREATED).await.body);
    expect(&s, &alice, PATCH, &format!("/v1/projects/{project}"), Some(json!({"name": "p2"})), S::OK).await;
    let env = id_of(
        &expect(
            &s,
            &alice,
            POST,
            &format!("/v1/projects/{project}/environments"),
            Some(json!({"name": "qa"})),
            S::CREATED,
        )
        .await
        .body,
    );
    let key = create_key(&s, &alice, json!({"name": "k", "scopes": ["*"]})).await;
    let key_id = id_of(&key);
    secrets.push(key["key"].as_str().unwrap().to_string());
    expect(&s, &alice, PATCH, &format!("/v1/api-keys/{key_id}"), Some(json!({"name": "k2"})), S::OK).await;
    let r = expect(&s, &alice, POST, &format!("/v1/api-keys/{key_id}/regenerate"), None, S::OK).await;
    let regenerated = r.body["key"].as_str().unwrap().to_string();
    secrets.push(regenerated.clone());
    // The key acts too: its actions are attributed to it.
    let by_key = create_key(&s, &regenerated, json!({"name": "made by a key"})).await;
    assert_eq!(by_key["source"], "api");
    assert_eq!(by_key["created_by_user_id"], Value::Null);
    secrets.push(by_key["key"].as_str().unwrap().to_string());
    let r = expect(&s, &alice, POST, &format!("/v1/api-keys/{key_id}/rotate"), None, S::CREATED).await;
    let new_key_id = r.body["new_key_id"].as_str().unwrap().to_string();
    secrets.push(r.body["key"].as_str().unwrap().to_string());
    expect(&s, &alice, DELETE, &format!("/v1/api-keys/{new_key_id}"), None, S::NO_CONTENT).await;
    expect(&s, &alice, DELETE, &format!("/v1/projects/{project}"), None, S::NO_CONTENT).await;
    expect(&s, &alice, DELETE, &format!("{members}/vic"), None, S::NO_CONTENT).await;
    expect(&s, &alice, PATCH, &format!("/v1/organizations/{org}"), Some(json!({"name": "Audited Inc"})), S::OK).await;
    // Refused management calls are recorded when the organization is known.
    add_member(&s, &alice, &org, "vic", "viewer").await;
    expect(&s, &vic, POST, "/v1/api-keys", Some(json!({"name": "nope"})), S::FORBIDDEN).await;
    expect(&s, &regenerated, GET, "/v1/api-keys", None, S::UNAUTHORIZED).await; // rotated away: revoked

    let expected: Vec<(&str, &str, &str, &str)> = vec![
        ("organization.created", "user", "alice", org.as_str()),
        ("member.added", "user", "alice", "vic"),
        ("member.updated", "user", "alice", "vic"),
        ("project.created", "user", "alice", project.as_str()),
        ("project.updated", "user", "alice", project.as_str()),
        ("environment.created", "user", "alice", env.as_str()),
        ("api_key.created", "user", "alice", key_id.as_str()),
        ("api_key.updated", "user", "alice", key_id.as_str()),
        ("api_key.regenerated", "user", "alice", key_id.as_str()),
        ("api_key.created", "api_key", key_id.as_str(), by_key["id"].as_str().unwrap()),
        ("api_key.rotated", "user", "alice", key_id.as_str()),
        ("api_key.revoked", "user", "alice", new_key_id.as_str()),
        ("project.deleted", "user", "alice", project.as_str()),
        ("member.removed", "user", "alice", "vic"),
        ("organization.updated", "user", "alice", org.as_str()),
        ("member.added", "user", "alice", "vic"),
        ("auth.denied", "user", "vic", "POST /v1/api-keys"),
        ("auth.failed", "api_key", key_id.as_str(), "GET /v1/api-keys"),
    ];
    // Page through newest first, two at a time.
    let mut events: Vec<Value> = Vec::new();
    let mut path = "/v1/audit-events?limit=2".to_string();
    for _ in 0..50 {
        let r = expect(&s, &alice, GET, &path, None, S::OK).await;
        events.extend(r.body.as_array().unwrap().iter().cloned());
        match r.header("x-next-cursor") {
            Some(c) => path = format!("/v1/audit-events?limit=2&starting_after={c}"),
            None => break,
        }
    }
    assert_eq!(events.len(), expected.len(), "exactly the expected events: {events:#?}");
    events.reverse();
    for (event, (action, actor_type, actor_id, target_id)) in events.iter().zip(&expected) {
        assert_eq!(event["action"], *action, "{event}");
        assert_eq!(event["actor"]["type"], *actor_type, "{event}");
        assert_eq!(event["actor"]["id"], *actor_id, "{event}");
        assert_eq!(event["target"]["id"], *target_id, "{event}");
        assert_eq!(event["organization_id"], org.as_str());
        assert!(
            event["request_id"].is_string() && event["created_at"].is_string() && event["changes"].is_object(),
            "{event}"
        );
    }
    let denied = &events[events.len() - 2];
    assert_eq!(denied["changes"]["status"], 403);
    assert!(denied["changes"]["reason"].as_str().unwrap().contains("viewer"), "{denied}");
    let everything = serde_json::to_string(&events).unwrap();
    for secret in &secrets {
        assert!(!everything.contains(secret.as_str()), "an audit event holds a secret");
    }
    // And in the database itself.
    let mut conn = s.state.store.pool().acquire().await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT changes FROM audit_events").fetch_all(&mut *conn).await.unwrap();
    drop(conn);
    for (changes,) in rows {
        for secret in &secrets {
            assert!(!changes.contains(secret.as_str()), "a stored audit event holds a secret");
        }
    }

    // Filters.
    let r = expect(&s, &alice, GET, "/v1/audit-events?action=member.added", None, S::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = expect(&s, &alice, GET, &format!("/v1/audit-events?actor_id={key_id}"), None, S::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = expect(&s, &alice, GET, &format!("/v1/audit-events?target_id={project}"), None, S::OK).await;
    assert_eq!(r.body.as_array().unwrap().len(), 3);
    let r = expect(&s, &alice, GET, "/v1/audit-events?since=2999-01-01T00:00:00Z", None, S::OK).await;
    assert!(r.body.as_array().unwrap().is_empty());
    let r = expect(&s, &alice, GET, "/v1/audit-events?until=2000-01-01T00:00:00Z", None, S::OK).await;
    assert!(r.body.as_array().unwrap().is_empty());
    let r =
        expect(&s, &alice, GET, "/v1/audit-events?since=2000-01-01T00:00:00Z&action=organization.created", None, S::OK)
            .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    expect(&s, &alice, GET, "/v1/audit-events?since=yesterday", None, S::BAD_REQUEST).await;
    expect(&s, &alice, GET, "/v1/audit-events?limit=0", None, S::BAD_REQUEST).await;
    s.stop().await;
}

backend_tests!(
    hs256_sessions_and_refusals,
    jwks_rs256_and_es256,
    organizations_and_context_fallback,
    each_role_allowed_and_denied,
    last_owner_is_protected,
    other_tenants_objects_are_not_found,
    environments_per_organization,
    deleting_projects_and_organizations_revokes_keys,
    audit_trail_of_every_mutation,
);
