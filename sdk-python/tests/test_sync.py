"""Every operation through the synchronous client against a real server."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import keyward
import pytest
from keyward import Keyward

from .conftest import Proxy, Server


def test_api_keys_lifecycle(client: Keyward, project: keyward.Project) -> None:
    expires = datetime.now(timezone.utc) + timedelta(days=30)
    created = client.api_keys.create(
        name="lifecycle",
        project_id=project.id,
        scopes=["reports:read", "reports:write"],
        expires_at=expires,
        allowed_ips=["127.0.0.1", "10.0.0.0/8"],
        meta={"customer": "acme", "tier": 2, "nested": {"ok": True}},
        rate_limit=keyward.RateLimit(limit=100, window_ms=60_000),
        usage_limit={"remaining": 1000},
        environment="test",
        device_name="laptop",
    )
    assert isinstance(created, keyward.CreatedApiKey)
    assert isinstance(created.key, keyward.SecretKey)
    secret = created.key.get_secret_value()
    assert secret.startswith(created.key_prefix)
    assert created.project_id == project.id
    assert created.environment == "test"
    assert created.scopes == ["reports:read", "reports:write"]
    assert created.meta == {"customer": "acme", "tier": 2, "nested": {"ok": True}}
    assert created.rate_limit == keyward.RateLimit(limit=100, window_ms=60_000)
    assert created.usage_limit is not None and created.usage_limit.remaining == 1000
    assert created.expires_at is not None and abs((created.expires_at - expires).total_seconds()) < 1
    assert created.is_active and created.revoked_at is None
    assert created.api_key.id == created.id and not hasattr(created.api_key, "key")

    got = client.api_keys.get(created.id)
    assert isinstance(got, keyward.ApiKey) and got.id == created.id and got.last4 == secret[-4:]

    updated = client.api_keys.update(created.id, name="renamed", scopes=["reports:read"], is_active=False)
    assert updated.name == "renamed" and updated.scopes == ["reports:read"] and not updated.is_active
    assert client.keys.verify(key=secret, ip="127.0.0.1").code == "DISABLED"
    client.api_keys.update(created.id, is_active=True)
    # An argument left out is not sent; None sends null, which clears a nullable field.
    kept = client.api_keys.update(created.id, name="renamed")
    assert kept.device_name == "laptop" and kept.expires_at is not None
    cleared = client.api_keys.update(created.id, device_name=None)
    assert cleared.device_name is None and cleared.name == "renamed" and cleared.is_active

    usage = client.api_keys.get_usage(created.id, granularity="hour", to=datetime.now(timezone.utc))
    assert isinstance(usage, keyward.ApiKeyUsage) and usage.key_id == created.id
    assert usage.granularity == "hour" and usage.from_ < usage.to and isinstance(usage.counts, dict)
    assert all(isinstance(bucket, keyward.UsageBucket) for bucket in usage.buckets)

    regenerated = client.api_keys.regenerate(created.id)
    assert regenerated.id == created.id
    assert regenerated.key != created.key
    assert client.keys.verify(key=secret, ip="127.0.0.1").code in ("NOT_FOUND", "REVOKED")
    assert client.keys.verify(key=regenerated.key.get_secret_value(), ip="127.0.0.1").valid

    client.api_keys.revoke(created.id)
    client.api_keys.revoke(created.id)  # idempotent
    assert client.api_keys.get(created.id).revoked_at is not None
    assert client.keys.verify(key=regenerated.key.get_secret_value(), ip="127.0.0.1").code == "REVOKED"


def test_rotate_with_grace(client: Keyward) -> None:
    created = client.api_keys.create(name="rotating", scopes=["a"])
    rotated = client.api_keys.rotate(created.id, grace_period_seconds=120)
    assert isinstance(rotated, keyward.RotatedApiKey)
    assert rotated.old_key_id == created.id and rotated.new_key_id != created.id
    assert rotated.grace_expires_at is not None
    assert rotated.scopes == ["a"]
    old = client.keys.verify(key=created.key.get_secret_value())
    assert old.valid and old.grace_expires_at is not None
    assert client.keys.verify(key=rotated.key.get_secret_value()).valid
    # Rotating the replaced key again conflicts.
    with pytest.raises(keyward.ConflictError):
        client.api_keys.rotate(created.id)


def test_rotate_without_grace_revokes_at_once(client: Keyward) -> None:
    created = client.api_keys.create(name="rotate-now")
    rotated = client.api_keys.rotate(created.id)
    assert rotated.grace_expires_at is None
    assert client.keys.verify(key=created.key.get_secret_value()).code == "REVOKED"


def test_verify(client: Keyward) -> None:
    created = client.api_keys.create(
        name="verify", scopes=["docs:read"], meta={"plan": "pro"}, usage_limit={"remaining": 10}
    )
    key = created.key.get_secret_value()
    result = client.keys.verify(key=key, required_scopes=["docs:read"], cost=3)
    assert isinstance(result, keyward.VerifyResult)
    assert result.valid and result.code == "VALID"
    assert result.key_id == created.id and result.name == "verify"
    # Quota arithmetic is the server's (tested there); the SDK passes `cost`
    # and surfaces `remaining`.
    assert result.meta == {"plan": "pro"} and isinstance(result.remaining, int)
    assert client.keys.verify(key=key, required_scopes=["docs:write"]).code == "INSUFFICIENT_SCOPES"
    assert client.keys.verify(key="not a key").code == "MALFORMED"
    restricted = client.api_keys.create(name="ip", allowed_ips=["10.1.2.3"])
    assert client.keys.verify(key=restricted.key.get_secret_value(), ip="192.0.2.1").code == "FORBIDDEN_IP"
    assert client.keys.verify(key=restricted.key.get_secret_value(), ip="10.1.2.3").valid
    limited = client.api_keys.create(name="rl", rate_limit={"limit": 1, "window_ms": 60_000})
    first = client.keys.verify(key=limited.key.get_secret_value())
    assert first.valid
    if first.ratelimit is not None:  # the server reports limits once its limiter is on
        assert isinstance(first.ratelimit, keyward.RateLimitState) and first.ratelimit.limit == 1
        assert client.keys.verify(key=limited.key.get_secret_value()).code == "RATE_LIMITED"


def test_list_follows_cursor_across_pages(server: Server, proxy: Proxy, project: keyward.Project) -> None:
    kw = Keyward(server.admin_key, base_url=proxy.base_url)
    ids = {kw.api_keys.create(name=f"page-{i}", project_id=project.id).id for i in range(5)}
    listed = list(kw.api_keys.list(project_id=project.id, limit=2))
    assert [k.id for k in listed] == sorted(ids, reverse=True)  # newest first (UUIDv7)
    assert all(isinstance(k, keyward.ApiKey) for k in listed)
    assert proxy.count("GET", "/v1/api-keys?") == 3  # 2 + 2 + 1
    # Filters pass through.
    assert list(kw.api_keys.list(project_id=project.id, environment="test")) == []


def test_list_is_lazy(client: Keyward, project: keyward.Project) -> None:
    for i in range(3):
        client.api_keys.create(name=f"lazy-{i}", project_id=project.id)
    it = client.api_keys.list(project_id=project.id, limit=1)
    first = next(it)
    assert first.name == "lazy-2"
    assert [k.name for k in it] == ["lazy-1", "lazy-0"]


def test_organization_api_keys(client: Keyward, server: Server, project: keyward.Project) -> None:
    org = server.org_id
    created = client.organization_api_keys.create(org, name="org-key", scopes=["keys:read"], project_id=project.id)
    # The spec's OrganizationCreatedApiKey: the key and, apart, its plaintext.
    assert isinstance(created, keyward.OrganizationCreatedApiKey) and created.api_key.organization_id == org
    assert isinstance(created.plaintext_api_key, keyward.SecretKey)
    secret = created.plaintext_api_key.get_secret_value()
    assert secret not in repr(created)
    assert client.keys.verify(key=secret).valid
    for i in range(2):
        client.organization_api_keys.create(org, name=f"org-{i}", scopes=["x"], project_id=project.id)
    listed = list(client.organization_api_keys.list(org, project_id=project.id, limit=1))
    assert sorted(k.name for k in listed) == ["org-0", "org-1", "org-key"]
    assert client.organization_api_keys.revoke(org, created.api_key.id).revoked
    assert client.keys.verify(key=secret).code == "REVOKED"
    with pytest.raises(keyward.NotFoundError):
        client.organization_api_keys.revoke(str(uuid.uuid4()), created.api_key.id)


def test_projects(client: Keyward) -> None:
    prefix = "p" + uuid.uuid4().hex[:5]
    p = client.projects.create(
        name="proj", key_prefix=prefix, default_scopes=["docs:read"],
        default_rate_limit={"limit": 5, "window_ms": 1000}, default_ttl_seconds=3600,
        default_grace_period_seconds=60,
    )
    assert isinstance(p, keyward.Project) and p.key_prefix == prefix
    assert p.default_scopes == ["docs:read"] and p.default_ttl_seconds == 3600
    assert client.projects.get(p.id) == p
    updated = client.projects.update(p.id, name="proj2", default_ttl_seconds=7200)
    assert updated.name == "proj2" and updated.default_ttl_seconds == 7200
    key = client.api_keys.create(name="in-project", project_id=p.id)
    assert key.key_prefix.startswith(f"{prefix}_live_") and key.scopes == ["docs:read"]
    for i in range(3):
        client.projects.create(name=f"more-{i}")
    all_projects = list(client.projects.list(limit=2))
    assert p.id in {x.id for x in all_projects} and len(all_projects) >= 4
    assert len({x.id for x in all_projects}) == len(all_projects)


def test_to_dict_and_secret_masking(client: Keyward) -> None:
    created = client.api_keys.create(name="masked")
    d = created.to_dict()
    assert d["id"] == created.id and d["name"] == "masked"
    secret = created.key.get_secret_value()
    assert secret not in repr(created) and secret not in str(d) and secret not in str(created.key)
    assert str(created.key) == f"{created.key_prefix}…"
    assert repr(created.key) == f"SecretKey('{created.key_prefix}…')"


def test_config_from_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWARD_API_KEY", server.admin_key)
    monkeypatch.setenv("KEYWARD_BASE_URL", server.base_url)
    with Keyward() as kw:
        assert kw.base_url == server.base_url
        assert kw.keys.verify(key=server.admin_key).valid


def test_missing_api_key_is_a_clear_error() -> None:
    with pytest.raises(keyward.KeywardError, match="KEYWARD_API_KEY"):
        Keyward()
    with pytest.raises(keyward.KeywardError, match="api_key"):
        keyward.AsyncKeyward()


def test_with_options_and_bad_arguments(client: Keyward) -> None:
    fast = client.with_options(timeout=5, max_retries=0)
    assert fast.keys.verify(key="kw_live_x").code == "MALFORMED"
    with pytest.raises(ValueError):
        client.with_options(timeout=-1)
    with pytest.raises(ValueError):
        client.with_options(max_retries=-1)
    with pytest.raises(ValueError, match="UUID"):
        client.api_keys.get("not-a-uuid")
    client.close()
    with pytest.raises(keyward.KeywardError, match="closed"):
        client.api_keys.get(str(uuid.uuid4()))
