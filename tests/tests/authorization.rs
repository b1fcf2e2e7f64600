//! The authorization table: every operation of the served spec against every
//! kind of caller, with the status each must get — and every attempt to
//! grant more than a caller holds. The operation list is read from the spec,
//! so an operation added without a row here fails `every_operation_has_a_row`.
//!
//! Each (operation, caller) pair runs in a tenant of its own, so destructive
//! operations (revoke, delete, rotate, delete the organization) never spoil
//! the next row. See `docs/roles.md` for the rules the table encodes.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use keyward_server::config::SecretString;
use keyward_tests::{Backend, Response, TestServer, backend_tests, json};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeSet;

const SESSION_SECRET: &str = "keyward-authorization-table-secret";

/// Who calls. Sessions act in the tenant by membership; keys are the tenant's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Owner,
    Admin,
    Member,
    Viewer,
    KeysRead,
    KeysWrite,
    KeysVerify,
    OrgsAdmin,
    Star,
    /// `*`, but confined to the tenant's project.
    ProjectKey,
    /// `*`, pinned to 192.0.2.1/32 and presented from 127.0.0.1.
    ForeignIp,
    Revoked,
    Expired,
    Disabled,
    Anonymous,
}

/// The columns of [`TABLE`], in order.
const CALLERS: [Who; 15] = [
    Who::Owner,
    Who::Admin,
    Who::Member,
    Who::Viewer,
    Who::KeysRead,
    Who::KeysWrite,
    Who::KeysVerify,
    Who::OrgsAdmin,
    Who::Star,
    Who::ProjectKey,
    Who::ForeignIp,
    Who::Revoked,
    Who::Expired,
    Who::Disabled,
    Who::Anonymous,
];

/// operation id → expected status per caller, in [`CALLERS`] order:
/// owner admin member viewer | keys:read keys:write keys:verify orgs:admin * project-key | foreign-ip | revoked expired disabled | anonymous
const TABLE: &[(&str, &str)] = &[
    ("healthz", "200 200 200 200 | 200 200 200 200 200 200 | 200 | 200 200 200 | 200"),
    ("readyz", "200 200 200 200 | 200 200 200 200 200 200 | 200 | 200 200 200 | 200"),
    // Signed by the reporter, not authenticated; refused while no reporter key is configured.
    ("report_leaked_keys", "403 403 403 403 | 403 403 403 403 403 403 | 403 | 403 403 403 | 403"),
    ("list_api_keys", "200 200 200 200 | 200 403 403 403 200 200 | 403 | 401 401 401 | 401"),
    ("create_api_key", "201 201 201 403 | 403 201 403 403 201 201 | 403 | 401 401 401 | 401"),
    ("import_api_keys", "201 201 201 403 | 403 201 403 403 201 201 | 403 | 401 401 401 | 401"),
    ("get_api_key", "200 200 200 200 | 200 403 403 403 200 200 | 403 | 401 401 401 | 401"),
    // Members change only the keys they created; the target was made by a key.
    ("revoke_api_key", "204 204 403 403 | 403 204 403 403 204 204 | 403 | 401 401 401 | 401"),
    ("update_api_key", "200 200 403 403 | 403 200 403 403 200 200 | 403 | 401 401 401 | 401"),
    ("regenerate_api_key", "200 200 403 403 | 403 200 403 403 200 200 | 403 | 401 401 401 | 401"),
    ("rotate_api_key", "201 201 403 403 | 403 201 403 403 201 201 | 403 | 401 401 401 | 401"),
    ("get_api_key_usage", "200 200 200 200 | 200 403 403 403 200 200 | 403 | 401 401 401 | 401"),
    ("list_audit_events", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("verify_key", "200 200 200 403 | 403 403 200 403 200 200 | 403 | 401 401 401 | 401"),
    ("get_caller", "200 200 200 200 | 200 200 200 200 200 200 | 403 | 401 401 401 | 401"),
    ("list_organizations", "200 200 200 200 | 403 403 403 200 200 200 | 403 | 401 401 401 | 401"),
    // Any user may found an organization (they become its owner); a key may not.
    ("create_organization", "201 201 201 201 | 403 403 403 403 403 403 | 403 | 401 401 401 | 401"),
    ("get_organization", "200 200 200 200 | 403 403 403 200 200 200 | 403 | 401 401 401 | 401"),
    ("update_organization", "200 403 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    // Owner-level: an owner session or a `*` key, never `orgs:admin`.
    ("delete_organization", "204 403 403 403 | 403 403 403 403 204 403 | 403 | 401 401 401 | 401"),
    ("list_organization_api_keys", "200 200 200 200 | 200 403 403 403 200 200 | 403 | 401 401 401 | 401"),
    ("create_organization_api_key", "201 201 201 403 | 403 201 403 403 201 201 | 403 | 401 401 401 | 401"),
    ("revoke_organization_api_key", "200 200 403 403 | 403 200 403 403 200 200 | 403 | 401 401 401 | 401"),
    ("list_members", "200 200 200 200 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("add_member", "201 403 403 403 | 403 403 403 201 201 403 | 403 | 401 401 401 | 401"),
    ("update_member", "200 403 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("remove_member", "204 403 403 403 | 403 403 403 204 204 403 | 403 | 401 401 401 | 401"),
    ("list_projects", "200 200 200 200 | 403 403 403 200 200 200 | 403 | 401 401 401 | 401"),
    ("create_project", "201 201 403 403 | 403 403 403 201 201 403 | 403 | 401 401 401 | 401"),
    ("get_project", "200 200 200 200 | 403 403 403 200 200 200 | 403 | 401 401 401 | 401"),
    ("update_project", "200 200 403 403 | 403 403 403 200 200 200 | 403 | 401 401 401 | 401"),
    ("delete_project", "204 204 403 403 | 403 403 403 204 204 403 | 403 | 401 401 401 | 401"),
    ("list_environments", "200 200 200 200 | 403 403 403 200 200 200 | 403 | 401 401 401 | 401"),
    ("create_environment", "201 201 403 403 | 403 403 403 201 201 403 | 403 | 401 401 401 | 401"),
    ("list_webhook_endpoints", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("create_webhook_endpoint", "201 201 403 403 | 403 403 403 201 201 403 | 403 | 401 401 401 | 401"),
    ("get_webhook_endpoint", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("update_webhook_endpoint", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("delete_webhook_endpoint", "204 204 403 403 | 403 403 403 204 204 403 | 403 | 401 401 401 | 401"),
    ("rotate_webhook_endpoint_secret", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("rotate_webhook_signing_secret", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("list_webhook_deliveries", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("get_webhook_delivery", "200 200 403 403 | 403 403 403 200 200 403 | 403 | 401 401 401 | 401"),
    ("redeliver_webhook_delivery", "202 202 403 403 | 403 403 403 202 202 403 | 403 | 401 401 401 | 401"),
];

/// Operations that take no credential (the same answer for everyone).
const PUBLIC: [&str; 3] = ["healthz", "readyz", "report_leaked_keys"];

fn expected(row: &str) -> Vec<u16> {
    row.split_whitespace().filter(|cell| *cell != "|").map(|cell| cell.parse().expect("a status")).collect()
}

/// `(method, path template, operation id)` of every operation the server serves.
fn spec_operations() -> Vec<(Method, String, String)> {
    let spec = serde_json::to_value(keyward_server::openapi()).expect("spec as JSON");
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("an HTTP method");
            let id = operation["operationId"].as_str().expect("every operation has an id").to_string();
            operations.push((method, path.clone(), id));
        }
    }
    operations
}

#[test]
fn every_operation_has_a_row() {
    let in_spec: BTreeSet<String> = spec_operations().into_iter().map(|(_, _, id)| id).collect();
    let in_table: BTreeSet<String> = TABLE.iter().map(|(id, _)| id.to_string()).collect();
    let missing: Vec<_> = in_spec.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_spec).collect();
    assert!(missing.is_empty(), "operations without a row in the authorization table: {missing:?}");
    assert!(stale.is_empty(), "rows for operations the spec no longer has: {stale:?}");
    for (id, row) in TABLE {
        assert_eq!(expected(row).len(), CALLERS.len(), "row {id} has a status for every caller");
    }
}

fn session(sub: &str) -> String {
    let claims = json!({"sub": sub, "exp": chrono::Utc::now().timestamp() + 600});
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SESSION_SECRET.as_bytes())).expect("sign")
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("id in {v}")).to_string()
}

async fn ok(r: Response, what: &str) -> Value {
    assert!(r.status.is_success(), "{what} answered {} {}", r.status, r.body);
    r.body
}

/// One tenant: its `*` key, a project, and whatever a row needs.
struct Tenant {
    org: String,
    admin: String,
    project: String,
}

impl Tenant {
    async fn new(s: &TestServer, n: usize) -> Tenant {
        let (org, admin) = s.new_tenant(&format!("tenant {n}")).await;
        let project = id_of(&ok(s.post("/v1/projects", &admin, json!({"name": "p"})).await, "create project").await);
        Tenant { org, admin, project }
    }

    async fn key(&self, s: &TestServer, body: Value) -> Value {
        ok(s.post("/v1/api-keys", &self.admin, body).await, "create key").await
    }

    /// The credential `who` presents in this tenant.
    async fn credential(&self, s: &TestServer, who: Who, n: usize) -> Option<String> {
        let key = |scopes: Value| json!({"name": format!("{who:?}"), "scopes": scopes});
        let session_with = |role: &'static str| async move {
            let user = format!("user_{n}_{role}");
            ok(
                s.post(
                    &format!("/v1/organizations/{}/members", self.org),
                    &self.admin,
                    json!({"user_id": user, "role": role}),
                )
                .await,
                "add member",
            )
            .await;
            session(&user)
        };
        let plaintext = |v: Value| v["key"].as_str().expect("plaintext").to_string();
        Some(match who {
            Who::Owner => session_with("owner").await,
            Who::Admin => session_with("admin").await,
            Who::Member => session_with("member").await,
            Who::Viewer => session_with("viewer").await,
            Who::KeysRead => plaintext(self.key(s, key(json!(["keys:read"]))).await),
            Who::KeysWrite => plaintext(self.key(s, key(json!(["keys:write"]))).await),
            Who::KeysVerify => plaintext(self.key(s, key(json!(["keys:verify"]))).await),
            Who::OrgsAdmin => plaintext(self.key(s, key(json!(["orgs:admin"]))).await),
            Who::Star => plaintext(self.key(s, key(json!(["*"]))).await),
            Who::ProjectKey => plaintext(
                self.key(s, json!({"name": "project key", "scopes": ["*"], "project_id": self.project})).await,
            ),
            Who::ForeignIp => plaintext(
                self.key(s, json!({"name": "pinned", "scopes": ["*"], "allowed_ips": ["192.0.2.1/32"]})).await,
            ),
            Who::Revoked => {
                let created = self.key(s, key(json!(["*"]))).await;
                ok(s.delete(&format!("/v1/api-keys/{}", id_of(&created)), &self.admin).await, "revoke").await;
                plaintext(created)
            }
            Who::Expired => {
                let created = self.key(s, key(json!(["*"]))).await;
                s.sql(&format!("UPDATE api_keys SET expires_at = 1 WHERE id = '{}'", id_of(&created))).await;
                s.state.keys.clear();
                plaintext(created)
            }
            Who::Disabled => {
                let created = self.key(s, key(json!(["*"]))).await;
                ok(
                    s.patch(&format!("/v1/api-keys/{}", id_of(&created)), &self.admin, json!({"is_active": false}))
                        .await,
                    "disable",
                )
                .await;
                plaintext(created)
            }
            Who::Anonymous => return None,
        })
    }

    /// The concrete path and body of operation `id` in this tenant, with
    /// fresh targets (a key the row may revoke, a member it may remove, …).
    async fn request(&self, s: &TestServer, id: &str, template: &str, n: usize) -> (String, Option<Value>) {
        let mut path = template.replace("{org}", &self.org);
        let body = match id {
            "create_api_key" | "create_organization_api_key" => {
                Some(json!({"name": "made", "scopes": ["billing:read"]}))
            }
            "import_api_keys" => Some(json!({"keys": [{
                "key_hash": format!("{:064x}", (n as u128) << 64 | 0xfeed), "key_prefix": "legacy_", "name": "imported",
                "scopes": ["billing:read"]}]})),
            "update_api_key" => Some(json!({"name": "renamed"})),
            "verify_key" => Some(json!({"key": "kw_live_unknown"})),
            "create_organization" => Some(json!({"name": "founded"})),
            "update_organization" => Some(json!({"name": "renamed"})),
            "add_member" => Some(json!({"user_id": format!("added_{n}"), "role": "member"})),
            "update_member" => Some(json!({"role": "admin"})),
            "create_project" => Some(json!({"name": "another"})),
            "update_project" => Some(json!({"name": "renamed"})),
            "create_environment" => Some(json!({"name": format!("env{n}")})),
            "create_webhook_endpoint" => Some(json!({"url": "http://127.0.0.1:9/hook"})),
            "update_webhook_endpoint" => Some(json!({"description": "renamed"})),
            "report_leaked_keys" => Some(json!([])),
            _ => None,
        };
        if path.contains("{id}") {
            let target = if path.starts_with("/v1/api-keys/") || path.contains("/api-keys/{id}") {
                // In the project, so the project key may act on it.
                id_of(
                    &self
                        .key(s, json!({"name": "target", "scopes": ["billing:read"], "project_id": self.project}))
                        .await,
                )
            } else if path.starts_with("/v1/projects/") && id == "delete_project" {
                id_of(&ok(s.post("/v1/projects", &self.admin, json!({"name": "doomed"})).await, "create project").await)
            } else if path.starts_with("/v1/projects/") {
                self.project.clone()
            } else if path.starts_with("/v1/webhook-endpoints/") {
                id_of(&self.endpoint(s).await)
            } else if path.starts_with("/v1/webhook-deliveries/") {
                self.delivery(s).await
            } else {
                panic!("no target for {id} {template}")
            };
            path = path.replace("{id}", &target);
        }
        if path.contains("{user_id}") {
            let user = format!("target_{n}");
            ok(
                s.post(
                    &format!("/v1/organizations/{}/members", self.org),
                    &self.admin,
                    json!({"user_id": user, "role": "member"}),
                )
                .await,
                "add member",
            )
            .await;
            path = path.replace("{user_id}", &user);
        }
        (path, body)
    }

    async fn endpoint(&self, s: &TestServer) -> Value {
        ok(
            s.post("/v1/webhook-endpoints", &self.admin, json!({"url": "http://127.0.0.1:9/hook"})).await,
            "create endpoint",
        )
        .await
    }

    /// A delivery: an endpoint, then a key change it is told of.
    async fn delivery(&self, s: &TestServer) -> String {
        self.endpoint(s).await;
        self.key(s, json!({"name": "announced"})).await;
        let listed = ok(s.get("/v1/webhook-deliveries", &self.admin).await, "list deliveries").await;
        id_of(&listed[0])
    }
}

async fn start(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| {
        c.jwt_secret = Some(SecretString(SESSION_SECRET.into()));
        // Hundreds of deliberate 401s from one address: the throttle has its own test.
        c.auth_failure_limit = 0;
        // Deliveries stay pending: the receiver address is closed anyway.
        c.background_jobs = false;
    })
    .await
}

async fn authorization_table(backend: Backend) {
    let s = start(backend).await;
    let operations = spec_operations();
    let mut failures = Vec::new();
    let mut n = 0;
    for (method, template, id) in &operations {
        let row = TABLE
            .iter()
            .find(|(op, _)| op == id)
            .map(|(_, row)| expected(row))
            .expect("a row (see every_operation_has_a_row)");
        for (who, want) in CALLERS.iter().zip(row) {
            n += 1;
            let tenant = Tenant::new(&s, n).await;
            let credential = tenant.credential(&s, *who, n).await;
            let (path, body) = tenant.request(&s, id, template, n).await;
            let mut request = s.raw(method.clone(), &path);
            if let Some(credential) = &credential {
                request = request.bearer_auth(credential);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let r = Response::read(request.send().await.expect("send")).await;
            if r.status.as_u16() != want {
                failures.push(format!("{id} as {who:?}: want {want}, got {} {}", r.status, r.body));
            } else if *who == Who::ForeignIp && !PUBLIC.contains(&id.as_str()) && r.body["code"] != "ip_not_allowed" {
                failures.push(format!("{id} as {who:?}: want code ip_not_allowed, got {}", r.body));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {n} cells differ:\n{}", failures.len(), failures.join("\n"));
    s.stop().await;
}

// ---------------------------------------------------------------- what a caller may grant

/// Scopes asked for, in the order of [`GRANTS`]' columns.
const ASKED: [&str; 7] = ["keys:read", "keys:verify", "keys:write", "keys:*", "orgs:admin", "*", "billing:*"];

/// Who grants → whether each of [`ASKED`] may be granted (`docs/roles.md`).
const GRANTS: &[(Who, &str)] = &[
    (Who::Owner, "y y y y y y y"),
    (Who::Admin, "y y y y n n y"),
    (Who::Member, "y y n n n n y"),
    (Who::KeysWrite, "n n y n n n y"),
    (Who::Star, "y y y y y y y"),
    (Who::ProjectKey, "y y y y y y y"),
];

/// The ways a scope is granted: each returns the response to check.
async fn grant(s: &TestServer, t: &Tenant, credential: &str, how: &str, scope: &str, n: usize) -> Response {
    let scopes = json!([scope]);
    match how {
        "create" => s.post("/v1/api-keys", credential, json!({"name": "g", "scopes": scopes})).await,
        "create in the organization family" => {
            s.post(&format!("/v1/organizations/{}/api-keys", t.org), credential, json!({"name": "g", "scopes": scopes}))
                .await
        }
        "import" => {
            let hash = format!("{:064x}", (n as u128) << 64 | 0xbeef);
            s.post(
                "/v1/api-keys/import",
                credential,
                json!({"keys": [{"key_hash": hash, "key_prefix": "legacy_", "name": "g", "scopes": scopes}]}),
            )
            .await
        }
        "project default_scopes" => {
            let project = json!({"name": "defaults", "default_scopes": scopes});
            let project = id_of(&ok(s.post("/v1/projects", &t.admin, project).await, "create project").await);
            s.post("/v1/api-keys", credential, json!({"name": "g", "project_id": project})).await
        }
        "patch" => {
            // A key the caller may change (members change only their own).
            let own = ok(
                s.post("/v1/api-keys", credential, json!({"name": "own", "scopes": ["billing:read"]})).await,
                "own key",
            )
            .await;
            s.patch(&format!("/v1/api-keys/{}", id_of(&own)), credential, json!({"scopes": scopes})).await
        }
        other => panic!("unknown grant {other}"),
    }
}

async fn grant_ceiling(backend: Backend) {
    let s = start(backend).await;
    let mut failures = Vec::new();
    let mut n = 100_000;
    for how in ["create", "create in the organization family", "import", "project default_scopes", "patch"] {
        for (who, allowed) in GRANTS {
            for (scope, allowed) in ASKED.iter().zip(allowed.split_whitespace()) {
                n += 1;
                let t = Tenant::new(&s, n).await;
                let credential = t.credential(&s, *who, n).await.expect("a credential");
                // A project key's keys live in its project.
                let how = if *who == Who::ProjectKey && how == "project default_scopes" { "create" } else { how };
                let r = grant(&s, &t, &credential, how, scope, n).await;
                let granted = r.status.is_success();
                if granted != (allowed == "y") {
                    failures.push(format!("{how} `{scope}` as {who:?}: want {allowed}, got {} {}", r.status, r.body));
                } else if !granted && (r.status != StatusCode::FORBIDDEN || r.body["code"] != "insufficient_scope") {
                    failures.push(format!(
                        "{how} `{scope}` as {who:?}: want 403 insufficient_scope, got {} {}",
                        r.status, r.body
                    ));
                }
            }
        }
    }
    // A new secret for a key is a grant of all it holds: a `keys:write` key
    // may neither regenerate nor rotate a `*` key (it would learn its plaintext).
    let t = Tenant::new(&s, n + 1).await;
    let writer = t.credential(&s, Who::KeysWrite, n + 1).await.expect("a credential");
    let strong = id_of(&t.key(&s, json!({"name": "strong", "scopes": ["*"]})).await);
    for action in ["regenerate", "rotate"] {
        let r = s.post(&format!("/v1/api-keys/{strong}/{action}"), &writer, json!({})).await;
        if r.status != StatusCode::FORBIDDEN || r.body["code"] != "insufficient_scope" {
            failures.push(format!(
                "{action} a `*` key with keys:write: want 403 insufficient_scope, got {} {}",
                r.status, r.body
            ));
        }
    }
    let r = s.patch(&format!("/v1/api-keys/{strong}"), &writer, json!({"name": "mine now"})).await;
    if r.status != StatusCode::FORBIDDEN {
        failures.push(format!("patch a `*` key with keys:write: want 403, got {} {}", r.status, r.body));
    }
    // Revoking is never a grant.
    let r = s.delete(&format!("/v1/api-keys/{strong}"), &writer).await;
    if r.status != StatusCode::NO_CONTENT {
        failures.push(format!("revoke a `*` key with keys:write: want 204, got {} {}", r.status, r.body));
    }
    // `source` is the server's to say.
    let r = s.post("/v1/api-keys", &t.admin, json!({"name": "x", "source": "bootstrap"})).await;
    if r.status != StatusCode::BAD_REQUEST || !r.error_message().contains("source") {
        failures.push(format!("a request naming `source`: want 400 naming the field, got {} {}", r.status, r.body));
    }
    assert!(failures.is_empty(), "{} grants differ:\n{}", failures.len(), failures.join("\n"));
    s.stop().await;
}

// ---------------------------------------------------------------- owner-level acts

/// Making or unmaking an owner needs an owner session or a `*` key: an
/// `orgs:admin` key manages members, but not owners.
async fn owners_are_made_only_by_owners(backend: Backend) {
    let s = start(backend).await;
    let t = Tenant::new(&s, 1).await;
    let orgs_admin = t.credential(&s, Who::OrgsAdmin, 1).await.expect("a key");
    let members = format!("/v1/organizations/{}/members", t.org);
    let add = |user: &str, role: &str| json!({"user_id": user, "role": role});
    ok(s.post(&members, &t.admin, add("owner_a", "owner")).await, "a * key adds an owner").await;
    ok(s.post(&members, &t.admin, add("member_b", "member")).await, "add a member").await;
    let refusals = [
        s.post(&members, &orgs_admin, add("owner_c", "owner")).await,
        s.patch(&format!("{members}/member_b"), &orgs_admin, json!({"role": "owner"})).await,
        s.patch(&format!("{members}/owner_a"), &orgs_admin, json!({"role": "admin"})).await,
        s.delete(&format!("{members}/owner_a"), &orgs_admin).await,
    ];
    for r in refusals {
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("insufficient_scope")),
            "{}",
            r.body
        );
    }
    // Members who are not owners are the orgs:admin key's to manage.
    ok(s.patch(&format!("{members}/member_b"), &orgs_admin, json!({"role": "admin"})).await, "promote to admin").await;
    // An owner session may make and unmake owners.
    let owner = session("owner_a");
    ok(s.patch(&format!("{members}/member_b"), &owner, json!({"role": "owner"})).await, "owner promotes").await;
    ok(s.delete(&format!("{members}/member_b"), &owner).await, "owner removes an owner").await;
    s.stop().await;
}

/// An `Idempotency-Key` replay is not a way around a removed membership.
async fn removed_members_get_no_replay(backend: Backend) {
    let s = start(backend).await;
    let t = Tenant::new(&s, 1).await;
    let member = t.credential(&s, Who::Member, 1).await.expect("a session");
    let create = || {
        s.raw(Method::POST, "/v1/api-keys")
            .bearer_auth(&member)
            .header("Idempotency-Key", "member-1")
            .json(&json!({"name": "m"}))
    };
    assert_eq!(create().send().await.unwrap().status(), StatusCode::CREATED);
    let replay = create().send().await.unwrap();
    assert_eq!(replay.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    ok(s.delete(&format!("/v1/organizations/{}/members/user_1_member", t.org), &t.admin).await, "remove the member")
        .await;
    let after = Response::read(create().send().await.unwrap()).await;
    assert!(
        matches!(after.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "no replay for a removed member: {} {}",
        after.status,
        after.body
    );
    assert!(after.body.get("key").is_none());
    s.stop().await;
}

backend_tests!(authorization_table, grant_ceiling, owners_are_made_only_by_owners, removed_members_get_no_replay);
