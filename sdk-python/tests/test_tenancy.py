"""The tenancy surface (issue 8) against a real server started with a JWT secret:
organizations, members, environments, audit events, project deletion, the
``organization_id`` setting, and tenant isolation. Dashboard users are HS256
session tokens minted here with the standard library only."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, List, TypeVar

import keyward
import pytest
from keyward import AsyncKeyward, Keyward

from .conftest import JWT_SECRET, Proxy, Server

T = TypeVar("T")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def session_token(sub: str, secret: str = JWT_SECRET, **claims: Any) -> str:
    """A 10-minute HS256 session JWT for user ``sub`` (what a dashboard's
    identity provider would issue)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": sub, "exp": int(time.time()) + 600, **claims}).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def new_user(prefix: str) -> str:
    """A user id no other test uses (the server is shared by the whole session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def as_user(server: Server, sub: str, **options: Any) -> Keyward:
    return Keyward(session_token(sub), base_url=server.base_url, **options)


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=60)

    return asyncio.run(bounded())


# --------------------------------------------------------------------------
# Organizations and members (sync)
# --------------------------------------------------------------------------


def test_session_token_helper_is_accepted_and_a_wrong_secret_is_not(server: Server) -> None:
    alice = new_user("alice")
    assert list(as_user(server, alice).organizations.list()) == []  # no organization yet
    forged = Keyward(session_token(alice, secret="not-the-secret"), base_url=server.base_url)
    with pytest.raises(keyward.AuthenticationError, match="signature"):
        list(forged.organizations.list())


def test_organization_and_member_lifecycle(server: Server) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    kw = as_user(server, alice)
    org = kw.organizations.create(name="Acme")
    assert isinstance(org, keyward.Organization)
    assert org.name == "Acme" and org.role == "owner" and org.key_prefix
    assert org.created_at.tzinfo is not None
    assert kw.organizations.get(org.id) == org
    assert [o.id for o in kw.organizations.list()] == [org.id]

    renamed = kw.organizations.update(org.id, name="Acme Inc")
    assert renamed.id == org.id and renamed.name == "Acme Inc" and renamed.key_prefix == org.key_prefix

    added = kw.members.add(org.id, user_id=bob, role="member")
    assert isinstance(added, keyward.Member)
    assert (added.organization_id, added.user_id, added.role) == (org.id, bob, "member")
    # Adding an existing member conflicts.
    with pytest.raises(keyward.ConflictError):
        kw.members.add(org.id, user_id=bob, role="viewer")
    # Pages of one: the cursor is a user id, not a UUID.
    members = list(kw.members.list(org.id, limit=1))
    assert {m.user_id: m.role for m in members} == {alice: "owner", bob: "member"}

    promoted = kw.members.update(org.id, bob, role="admin")
    assert promoted.user_id == bob and promoted.role == "admin"
    # Bob now sees the organization with his own role.
    assert [(o.id, o.role) for o in as_user(server, bob).organizations.list()] == [(org.id, "admin")]

    # The last owner can be neither demoted nor removed.
    with pytest.raises(keyward.ConflictError, match="last owner") as demoted:
        kw.members.update(org.id, alice, role="admin")
    assert demoted.value.status_code == 409
    with pytest.raises(keyward.ConflictError):
        kw.members.remove(org.id, alice)
    # Unknown members are not found.
    with pytest.raises(keyward.NotFoundError):
        kw.members.update(org.id, "nobody", role="viewer")
    with pytest.raises(keyward.NotFoundError):
        kw.members.remove(org.id, "nobody")

    kw.members.remove(org.id, bob)
    assert [m.user_id for m in kw.members.list(org.id)] == [alice]
    assert list(as_user(server, bob).organizations.list()) == []

    kw.organizations.delete(org.id)
    with pytest.raises(keyward.NotFoundError):
        kw.organizations.get(org.id)
    assert list(kw.organizations.list()) == []


def test_roles_are_enforced(server: Server) -> None:
    owner, viewer = new_user("owner"), new_user("viewer")
    kw = as_user(server, owner)
    org = kw.organizations.create(name="Roles")
    kw.members.add(org.id, user_id=viewer, role="viewer")
    as_viewer = as_user(server, viewer)
    assert [m.user_id for m in as_viewer.members.list(org.id)]  # members:read
    with pytest.raises(keyward.PermissionDeniedError):
        as_viewer.members.add(org.id, user_id=new_user("x"), role="viewer")
    with pytest.raises(keyward.PermissionDeniedError):
        as_viewer.organizations.update(org.id, name="mine now")
    with pytest.raises(keyward.PermissionDeniedError):
        list(as_viewer.audit_events.list())
    # A role the server does not know is refused before anything is sent.
    with pytest.raises(ValueError, match="superuser"):
        kw.members.add(org.id, user_id=new_user("x"), role="superuser")  # type: ignore[arg-type]


def test_organizations_list_pages(server: Server, proxy: Proxy) -> None:
    kw = Keyward(session_token(new_user("many")), base_url=proxy.base_url)
    created = [kw.organizations.create(name=f"org-{i}").id for i in range(3)]
    listed = list(kw.organizations.list(limit=2))
    assert sorted(o.id for o in listed) == sorted(created)
    assert all(o.role == "owner" for o in listed)
    assert proxy.count("GET", "/v1/organizations?") == 2  # 2 + 1


def test_api_key_sees_only_its_own_organization(client: Keyward, server: Server) -> None:
    orgs = list(client.organizations.list())
    assert [o.id for o in orgs] == [server.org_id] and orgs[0].role is None
    assert client.organizations.get(server.org_id).id == server.org_id
    # An organization needs an owner: API keys cannot create one.
    with pytest.raises(keyward.PermissionDeniedError):
        client.organizations.create(name="ownerless")


# --------------------------------------------------------------------------
# organization_id (X-Organization-Id)
# --------------------------------------------------------------------------


def test_organization_id_selects_the_organization(
    server: Server, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = new_user("alice")
    token = session_token(alice)
    kw = Keyward(token, base_url=server.base_url)
    first = kw.organizations.create(name="first")
    second = kw.organizations.create(name="second")
    assert kw.organization_id is None
    # Unset: the user's first organization.
    assert kw.projects.create(name="p").organization_id == first.id

    chosen = Keyward(token, base_url=proxy.base_url, organization_id=second.id)
    assert chosen.organization_id == second.id
    project = chosen.projects.create(name="p2")
    assert project.organization_id == second.id
    assert {e.name for e in chosen.environments.list(project.id)} == {"live", "test"}
    assert proxy.seen and all(h.get("x-organization-id") == second.id for _, _, h in proxy.seen)
    # with_options keeps it.
    assert chosen.with_options(max_retries=0).projects.get(project.id).id == project.id
    assert proxy.seen[-1][2].get("x-organization-id") == second.id

    monkeypatch.setenv("KEYWARD_ORGANIZATION_ID", second.id)
    from_env = Keyward(token, base_url=server.base_url)
    assert from_env.organization_id == second.id
    assert from_env.projects.create(name="p3").organization_id == second.id

    with pytest.raises(ValueError, match="organization_id"):
        Keyward(token, base_url=server.base_url, organization_id="not-a-uuid")
    # An organization the user is not a member of is not found.
    elsewhere = Keyward(token, base_url=server.base_url, organization_id=str(uuid.uuid4()))
    with pytest.raises(keyward.NotFoundError):
        list(elsewhere.api_keys.list())


# --------------------------------------------------------------------------
# Environments, project deletion, audit events
# --------------------------------------------------------------------------


def test_environments(server: Server) -> None:
    kw = as_user(server, new_user("envs"))
    org = kw.organizations.create(name="Envs")
    project = kw.projects.create(name="p")
    envs = list(kw.environments.list(project.id))
    assert all(isinstance(e, keyward.Environment) for e in envs)
    assert sorted(e.name for e in envs) == ["live", "test"]
    assert all(e.organization_id == org.id for e in envs)

    staging = kw.environments.create(project.id, name="staging")
    assert isinstance(staging, keyward.Environment)
    assert staging.name == "staging" and staging.organization_id == org.id
    with pytest.raises(keyward.ConflictError):
        kw.environments.create(project.id, name="staging")
    with pytest.raises(ValueError, match="`name` must match"):
        kw.environments.create(project.id, name="Not Valid")
    # Shared by every project of the organization; pages of one.
    other = kw.projects.create(name="other")
    names = [e.name for e in kw.environments.list(other.id, limit=1)]
    assert sorted(names) == ["live", "staging", "test"]
    key = kw.api_keys.create(name="staged", project_id=project.id, environment="staging")
    assert key.environment == "staging" and key.environment_id == staging.id


def test_project_delete_revokes_its_keys(client: Keyward) -> None:
    project = client.projects.create(name=f"doomed-{uuid.uuid4().hex[:6]}")
    key = client.api_keys.create(name="in-doomed", project_id=project.id)
    assert client.keys.verify(key=key.key.get_secret_value()).valid
    client.projects.delete(project.id)
    with pytest.raises(keyward.NotFoundError):
        client.projects.get(project.id)
    assert project.id not in {p.id for p in client.projects.list()}
    assert client.keys.verify(key=key.key.get_secret_value()).code == "REVOKED"
    with pytest.raises(keyward.NotFoundError):
        client.projects.delete(project.id)


def test_audit_events(server: Server) -> None:
    alice, vic = new_user("alice"), new_user("vic")
    kw = as_user(server, alice)
    org = kw.organizations.create(name="Audited")
    kw.members.add(org.id, user_id=vic, role="viewer")
    kw.members.update(org.id, vic, role="member")
    project = kw.projects.create(name="audited")
    kw.projects.delete(project.id)
    kw.members.remove(org.id, vic)

    events = list(kw.audit_events.list(limit=2))  # newest first, pages of two
    assert all(isinstance(e, keyward.AuditEvent) for e in events)
    assert [e.action for e in events] == [
        "member.removed",
        "project.deleted",
        "project.created",
        "member.updated",
        "member.added",
        "organization.created",
    ]
    assert len({e.id for e in events}) == len(events)
    newest = events[0]
    assert newest.organization_id == org.id
    assert isinstance(newest.actor, keyward.AuditActor) and isinstance(newest.target, keyward.AuditTarget)
    assert (newest.actor.type, newest.actor.id) == ("user", alice)
    assert (newest.target.type, newest.target.id) == ("user", vic)
    assert isinstance(newest.changes, dict) and newest.request_id
    assert newest.to_dict()["actor"] == {"type": "user", "id": alice}

    # Filters.
    assert [e.action for e in kw.audit_events.list(action="member.added")] == ["member.added"]
    assert [e.action for e in kw.audit_events.list(target_id=project.id)] == [
        "project.deleted",
        "project.created",
    ]
    assert len(list(kw.audit_events.list(actor_id=alice))) == len(events)
    assert list(kw.audit_events.list(actor_id="someone-else")) == []
    now = datetime.now(timezone.utc)
    assert list(kw.audit_events.list(since=now + timedelta(days=1))) == []
    assert list(kw.audit_events.list(until=datetime(2000, 1, 1))) == []  # naive = UTC
    within_the_hour = kw.audit_events.list(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert len(list(within_the_hour)) == len(events)
    assert [e.action for e in kw.audit_events.list(since="2000-01-01T00:00:00Z", action="organization.created")] == [
        "organization.created"
    ]
    with pytest.raises(ValueError, match="since"):
        list(kw.audit_events.list(since="yesterday"))


# --------------------------------------------------------------------------
# Tenant isolation
# --------------------------------------------------------------------------


def test_other_tenants_objects_are_not_found(server: Server, client: Keyward) -> None:
    alice, bob = new_user("alice"), new_user("bob")
    as_alice, as_bob = as_user(server, alice), as_user(server, bob)
    as_alice.organizations.create(name="A")
    b = as_bob.organizations.create(name="B")
    as_bob.members.add(b.id, user_id="bobby", role="viewer")
    b_project = as_bob.projects.create(name="bp")
    b_key = as_bob.api_keys.create(name="b", project_id=b_project.id)

    # A user of another organization, and the bootstrap organization's admin key.
    for kw in (as_alice, client):
        attempts: List[Any] = [
            lambda kw=kw: kw.organizations.get(b.id),
            lambda kw=kw: kw.organizations.update(b.id, name="x"),
            lambda kw=kw: kw.organizations.delete(b.id),
            lambda kw=kw: list(kw.members.list(b.id)),
            lambda kw=kw: kw.members.add(b.id, user_id="x", role="owner"),
            lambda kw=kw: kw.members.update(b.id, "bobby", role="owner"),
            lambda kw=kw: kw.members.remove(b.id, bob),
            lambda kw=kw: list(kw.environments.list(b_project.id)),
            lambda kw=kw: kw.environments.create(b_project.id, name="x"),
            lambda kw=kw: kw.projects.get(b_project.id),
            lambda kw=kw: kw.projects.delete(b_project.id),
            lambda kw=kw: kw.api_keys.get(b_key.id),
        ]
        for attempt in attempts:
            with pytest.raises(keyward.NotFoundError) as caught:
                attempt()
            assert caught.value.code == "not_found"
        assert all(e.organization_id != b.id for e in kw.audit_events.list())
    # B is untouched.
    assert as_bob.projects.get(b_project.id).id == b_project.id
    assert sorted(m.user_id for m in as_bob.members.list(b.id)) == sorted([bob, "bobby"])
    assert as_bob.keys.verify(key=b_key.key.get_secret_value()).valid


# --------------------------------------------------------------------------
# The same through AsyncKeyward
# --------------------------------------------------------------------------


def test_async_tenancy(server: Server) -> None:
    alice, bob = new_user("alice"), new_user("bob")

    async def main() -> None:
        async with AsyncKeyward(session_token(alice), base_url=server.base_url) as kw:
            assert [o async for o in kw.organizations.list()] == []
            org = await kw.organizations.create(name="Async", key_prefix="asy")
            assert isinstance(org, keyward.Organization) and org.role == "owner" and org.key_prefix == "asy"
            assert (await kw.organizations.get(org.id)).id == org.id
            assert (await kw.organizations.update(org.id, name="Async2")).name == "Async2"
            assert [o.id async for o in kw.organizations.list(limit=1)] == [org.id]

            member = await kw.members.add(org.id, user_id=bob, role="viewer")
            assert isinstance(member, keyward.Member) and member.role == "viewer"
            assert (await kw.members.update(org.id, bob, role="admin")).role == "admin"
            assert sorted([m.user_id async for m in kw.members.list(org.id, limit=1)]) == sorted([alice, bob])
            with pytest.raises(keyward.ConflictError):
                await kw.members.update(org.id, alice, role="viewer")
            with pytest.raises(keyward.ConflictError):
                await kw.members.remove(org.id, alice)
            await kw.members.remove(org.id, bob)
            assert [m.user_id async for m in kw.members.list(org.id)] == [alice]

            project = await kw.projects.create(name="ap")
            assert project.organization_id == org.id
            env = await kw.environments.create(project.id, name="preview")
            assert isinstance(env, keyward.Environment) and env.name == "preview"
            names = sorted([e.name async for e in kw.environments.list(project.id, limit=2)])
            assert names == ["live", "preview", "test"]
            key = await kw.api_keys.create(name="k", project_id=project.id)
            assert key.key_prefix.startswith("asy_")
            await kw.projects.delete(project.id)
            with pytest.raises(keyward.NotFoundError):
                await kw.projects.get(project.id)

            actions = [e.action async for e in kw.audit_events.list(limit=3)]
            assert actions[0] == "project.deleted" and actions[-1] == "organization.created"
            assert "environment.created" in actions and "member.removed" in actions
            added = [e async for e in kw.audit_events.list(action="member.added")]
            assert [(e.actor.id, e.target.id) for e in added] == [(alice, bob)]
            assert [e async for e in kw.audit_events.list(since=datetime.now(timezone.utc) + timedelta(days=1))] == []

            # Cross-tenant and organization_id through the async client.
            stranger = AsyncKeyward(session_token(new_user("eve")), base_url=server.base_url)
            with pytest.raises(keyward.NotFoundError):
                await stranger.organizations.get(org.id)
            with pytest.raises(keyward.NotFoundError):
                [m async for m in stranger.members.list(org.id)]
            pinned = AsyncKeyward(session_token(alice), base_url=server.base_url, organization_id=org.id)
            assert pinned.organization_id == org.id
            assert (await pinned.projects.create(name="pinned")).organization_id == org.id

            await kw.organizations.delete(org.id)
            with pytest.raises(keyward.NotFoundError):
                await kw.organizations.get(org.id)

    run(main())


def test_to_dict_of_tenancy_results(server: Server) -> None:
    kw = as_user(server, new_user("dict"))
    org = kw.organizations.create(name="Dict")
    d = org.to_dict()
    assert d["id"] == org.id and d["role"] == "owner" and isinstance(d["created_at"], datetime)
    member = next(iter(kw.members.list(org.id)))
    assert member.to_dict()["role"] == "owner"
    env = next(iter(kw.environments.list(kw.projects.create(name="p").id)))
    assert set(env.to_dict()) == {"id", "organization_id", "name", "created_at"}
