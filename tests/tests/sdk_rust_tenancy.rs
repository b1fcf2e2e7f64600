//! The Rust SDK's tenancy surface end to end (every backend): organizations,
//! members, environments, audit events, project deletion and the
//! `organization_id` setting (`X-Organization-Id`), driven only through
//! `keyward::Client` with HS256 session JWTs as the API key.

use std::future::Future;
use std::time::Duration;

use futures::TryStreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use keyward::types::{
    AddMemberRequest, CreateEnvironmentRequest, CreateOrganizationRequest, CreateProjectRequest, Role,
    UpdateMemberRequest, UpdateOrganizationRequest,
};
use keyward::{Client, Error, ListAuditEvents, ListEnvironments, ListMembers, ListOrganizations, ListProjects, Uuid};
use keyward_server::config::SecretString;
use keyward_tests::{Backend, TestServer, backend_tests};
use serde_json::json;

const SECRET: &str = "keyward-sdk-tenancy-secret";
const TEST_DEADLINE: Duration = Duration::from_secs(120);

async fn within_deadline<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_DEADLINE, test).await.expect("test exceeded its deadline")
}

async fn start(backend: Backend) -> TestServer {
    TestServer::start_with(backend, |c| c.jwt_secret = Some(SecretString(SECRET.into()))).await
}

/// A 10-minute HS256 session for `sub`.
fn session(sub: &str) -> String {
    let claims = json!({"sub": sub, "exp": chrono::Utc::now().timestamp() + 600});
    encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).expect("sign HS256")
}

/// A client for user `sub`, optionally acting in `org`.
fn user(server: &TestServer, sub: &str, org: Option<Uuid>) -> Client {
    let mut builder = Client::builder().api_key(session(sub)).base_url(&server.base_url);
    if let Some(org) = org {
        builder = builder.organization_id(org);
    }
    builder.build().expect("client config is valid")
}

fn new_org(name: &str) -> CreateOrganizationRequest {
    CreateOrganizationRequest { name: name.into(), key_prefix: None }
}

fn new_project(name: &str) -> CreateProjectRequest {
    serde_json::from_value(json!({"name": name})).expect("a valid CreateProjectRequest")
}

fn assert_status(result: Result<impl std::fmt::Debug, Error>, status: u16) -> Error {
    let error = result.expect_err("the call fails");
    assert!(matches!(error, Error::Api { .. }), "{error:?}");
    assert_eq!(error.status(), Some(status), "{error:?}");
    error
}

async fn organizations_and_members(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let alice = user(&server, "alice", None);
        assert_eq!(alice.organizations().list_page(ListOrganizations::default()).await.unwrap().items, vec![]);

        let org = alice
            .organizations()
            .create(CreateOrganizationRequest { name: "Acme".into(), key_prefix: Some("acme".into()) })
            .await
            .unwrap();
        assert_eq!((org.key_prefix.as_str(), org.role), ("acme", Some(Role::Owner)));
        let second = alice.organizations().create(new_org("Second")).await.unwrap();

        // Newest first, across pages.
        let page =
            alice.organizations().list_page(ListOrganizations { limit: Some(1), ..Default::default() }).await.unwrap();
        assert_eq!(page.items[0].id, second.id);
        assert_eq!(page.next_cursor, Some(second.id.to_string()));
        let all: Vec<_> = alice
            .organizations()
            .list(ListOrganizations { limit: Some(1), ..Default::default() })
            .try_collect()
            .await
            .unwrap();
        assert_eq!(all.iter().map(|o| o.id).collect::<Vec<_>>(), vec![second.id, org.id]);

        let renamed = alice
            .organizations()
            .update(org.id, UpdateOrganizationRequest { name: Some("Acme Inc".into()), key_prefix: None })
            .await
            .unwrap();
        assert_eq!(renamed.name, "Acme Inc");
        assert_eq!(alice.organizations().get(org.id).await.unwrap().name, "Acme Inc");

        // Members: add, change role, list (paginated), remove; the last owner stays.
        let members = alice.members();
        let bob = members.add(org.id, AddMemberRequest { user_id: "bob".into(), role: Role::Viewer }).await.unwrap();
        assert_eq!((bob.user_id.as_str(), bob.role), ("bob", Role::Viewer));
        assert_status(members.add(org.id, AddMemberRequest { user_id: "bob".into(), role: Role::Admin }).await, 409);
        let bob = members.update(org.id, "bob", UpdateMemberRequest { role: Role::Admin }).await.unwrap();
        assert_eq!(bob.role, Role::Admin);
        let page = members.list_page(org.id, ListMembers { limit: Some(1), ..Default::default() }).await.unwrap();
        assert_eq!(page.items.len(), 1);
        assert!(page.has_more());
        let listed: Vec<_> =
            members.list(org.id, ListMembers { limit: Some(1), ..Default::default() }).try_collect().await.unwrap();
        let mut users: Vec<_> = listed.iter().map(|m| (m.user_id.as_str(), m.role.clone())).collect();
        users.sort();
        assert_eq!(users, vec![("alice", Role::Owner), ("bob", Role::Admin)]);

        let last_owner = assert_status(members.remove(org.id, "alice").await, 409);
        assert!(last_owner.message().unwrap_or_default().contains("last owner"), "{last_owner:?}");
        assert_status(members.update(org.id, "alice", UpdateMemberRequest { role: Role::Viewer }).await, 409);
        members.remove(org.id, "bob").await.unwrap();
        assert!(members.remove(org.id, "bob").await.unwrap_err().is_not_found());
        let left: Vec<_> = members.list(org.id, ListMembers::default()).try_collect().await.unwrap();
        assert_eq!(left.iter().map(|m| m.user_id.as_str()).collect::<Vec<_>>(), vec!["alice"]);

        // Bob is gone, so Acme is another tenant's to him: 404, never 403.
        let bob = user(&server, "bob", None);
        assert!(bob.organizations().get(org.id).await.unwrap_err().is_not_found());
        assert!(bob.members().list_page(org.id, ListMembers::default()).await.unwrap_err().is_not_found());

        // Deleting an organization.
        alice.organizations().delete(second.id).await.unwrap();
        assert!(alice.organizations().get(second.id).await.unwrap_err().is_not_found());
        let left: Vec<_> = alice.organizations().list(ListOrganizations::default()).try_collect().await.unwrap();
        assert_eq!(left.iter().map(|o| o.id).collect::<Vec<_>>(), vec![org.id]);

        // An API key sees only its own organization and cannot create one.
        let key_client = Client::builder().api_key(&server.admin_key).base_url(&server.base_url).build().unwrap();
        let own: Vec<_> = key_client.organizations().list(ListOrganizations::default()).try_collect().await.unwrap();
        assert_eq!(own.len(), 1);
        assert_eq!(own[0].id.to_string(), server.organization_id);
        assert!(key_client.organizations().create(new_org("nope")).await.unwrap_err().is_permission_denied());
        server.stop().await;
    })
    .await
}

async fn environments_projects_and_audit(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let alice = user(&server, "alice", None);
        let org = alice.organizations().create(new_org("Acme")).await.unwrap();
        let project = alice.projects().create(new_project("web")).await.unwrap();
        assert_eq!(project.organization_id, org.id);

        // `live` and `test` come with the organization; a third one is added.
        let environments = alice.environments();
        let staging =
            environments.create(project.id, CreateEnvironmentRequest { name: "staging".into() }).await.unwrap();
        assert_eq!((staging.name.as_str(), staging.organization_id), ("staging", org.id));
        assert_status(environments.create(project.id, CreateEnvironmentRequest { name: "staging".into() }).await, 409);
        let first = environments
            .list_page(project.id, ListEnvironments { limit: Some(2), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.items[0].id, staging.id);
        let rest = environments
            .list_page(project.id, ListEnvironments { limit: Some(2), starting_after: Some(first.items[1].id) })
            .await
            .unwrap();
        assert_eq!((rest.items.len(), rest.has_more()), (1, false));
        let mut names: Vec<_> = environments
            .list(project.id, ListEnvironments { limit: Some(1), ..Default::default() })
            .map_ok(|e| e.name)
            .try_collect()
            .await
            .unwrap();
        names.sort();
        assert_eq!(names, vec!["live", "staging", "test"]);

        // Deleting a project.
        alice.projects().delete(project.id).await.unwrap();
        assert!(alice.projects().get(project.id).await.unwrap_err().is_not_found());
        assert!(alice.projects().delete(project.id).await.unwrap_err().is_not_found());

        // The audit log saw all of it, newest first, across pages.
        let audit = alice.audit_events();
        let events: Vec<_> =
            audit.list(ListAuditEvents { limit: Some(2), ..Default::default() }).try_collect().await.unwrap();
        let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            vec!["project.deleted", "environment.created", "project.created", "organization.created"],
            "{events:?}"
        );
        assert!(events.iter().all(|e| e.organization_id == org.id && e.actor.id == "alice"));
        let page = audit.list_page(ListAuditEvents { limit: Some(2), ..Default::default() }).await.unwrap();
        assert_eq!(page.next_cursor, Some(events[1].id.to_string()));
        let filtered = audit
            .list_page(ListAuditEvents {
                action: Some("environment.created".into()),
                actor_id: Some("alice".into()),
                since: Some(org.created_at - chrono::Duration::seconds(1)),
                until: Some(chrono::Utc::now() + chrono::Duration::seconds(60)),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(filtered.items.len(), 1);
        assert_eq!(filtered.items[0].target.id, staging.id.to_string());
        let by_target = audit
            .list_page(ListAuditEvents { target_id: Some(project.id.to_string()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(by_target.items.len(), 2, "{:?}", by_target.items);

        // A member (not an admin) may not read the audit log.
        alice.members().add(org.id, AddMemberRequest { user_id: "carol".into(), role: Role::Member }).await.unwrap();
        let carol = user(&server, "carol", None);
        assert!(carol.audit_events().list_page(ListAuditEvents::default()).await.unwrap_err().is_permission_denied());
        server.stop().await;
    })
    .await
}

async fn organization_id_selects_the_tenant(backend: Backend) {
    within_deadline(async {
        let server = start(backend).await;
        let alice = user(&server, "alice", None);
        let first = alice.organizations().create(new_org("First")).await.unwrap();
        let second = alice.organizations().create(new_org("Second")).await.unwrap();
        assert_eq!(alice.organization_id(), None);

        // Without the setting a session acts in its oldest organization…
        let in_first = alice.projects().create(new_project("one")).await.unwrap();
        assert_eq!(in_first.organization_id, first.id);
        // …with it, in the one named by X-Organization-Id, on every call.
        let in_second_client = user(&server, "alice", Some(second.id));
        assert_eq!(in_second_client.organization_id(), Some(second.id));
        let in_second = in_second_client.projects().create(new_project("two")).await.unwrap();
        assert_eq!(in_second.organization_id, second.id);
        let listed: Vec<_> = in_second_client.projects().list(ListProjects::default()).try_collect().await.unwrap();
        assert_eq!(listed.iter().map(|p| p.id).collect::<Vec<_>>(), vec![in_second.id]);
        let environments: Vec<_> = in_second_client
            .environments()
            .list(in_second.id, ListEnvironments::default())
            .try_collect()
            .await
            .unwrap();
        assert!(environments.iter().all(|e| e.organization_id == second.id));
        // Another organization's project through the selected one: 404.
        assert!(in_second_client.projects().get(in_first.id).await.unwrap_err().is_not_found());
        // with_options keeps the organization (it shares the client's headers).
        let patient =
            in_second_client.with_options(keyward::RequestOptions { max_retries: Some(0), ..Default::default() });
        assert_eq!(patient.projects().get(in_second.id).await.unwrap().organization_id, second.id);

        // Cross-tenant: mallory, in her own organization, sees none of alice's.
        let mallory = user(&server, "mallory", None);
        mallory.organizations().create(new_org("Mallory's")).await.unwrap();
        assert!(mallory.organizations().get(first.id).await.unwrap_err().is_not_found());
        assert!(mallory.members().list_page(first.id, ListMembers::default()).await.unwrap_err().is_not_found());
        assert!(
            mallory
                .members()
                .add(first.id, AddMemberRequest { user_id: "mallory".into(), role: Role::Owner })
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(
            mallory
                .environments()
                .list_page(in_first.id, ListEnvironments::default())
                .await
                .unwrap_err()
                .is_not_found()
        );
        assert!(mallory.projects().delete(in_first.id).await.unwrap_err().is_not_found());
        assert!(mallory.organizations().delete(first.id).await.unwrap_err().is_not_found());
        // Selecting alice's organization does not get her in.
        let intruder = user(&server, "mallory", Some(first.id));
        assert!(intruder.projects().list_page(ListProjects::default()).await.unwrap_err().is_not_found());
        assert!(intruder.audit_events().list_page(ListAuditEvents::default()).await.unwrap_err().is_not_found());
        // Everything of alice's is still there.
        assert_eq!(alice.projects().get(in_first.id).await.unwrap().name, "one");
        server.stop().await;
    })
    .await
}

backend_tests!(organizations_and_members, environments_projects_and_audit, organization_id_selects_the_tenant,);
