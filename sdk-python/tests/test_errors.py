"""Each exception class, raised from Rust with the right Python class."""

from __future__ import annotations

import pickle
import uuid

import keyward
import pytest
from keyward import Keyward

from .conftest import Proxy, Server, free_port


def test_hierarchy() -> None:
    assert issubclass(keyward.APITimeoutError, keyward.APIConnectionError)
    assert issubclass(keyward.APIConnectionError, keyward.KeywardError)
    for cls in (
        keyward.BadRequestError, keyward.AuthenticationError, keyward.PermissionDeniedError,
        keyward.NotFoundError, keyward.ConflictError, keyward.RateLimitError, keyward.InternalServerError,
    ):
        assert issubclass(cls, keyward.APIStatusError) and issubclass(cls, keyward.KeywardError)
    e = keyward.NotFoundError(404, "not_found", "gone", "req-1")
    assert (e.status_code, e.code, e.message, e.request_id) == (404, "not_found", "gone", "req-1")
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is keyward.NotFoundError and again.request_id == "req-1"


def test_bad_request(client: Keyward) -> None:
    # A rule only the server knows (the past is not a valid expiry): its 400.
    with pytest.raises(keyward.BadRequestError) as info:
        client.api_keys.create(name="bad", expires_at="2001-01-01T00:00:00Z")
    err = info.value
    assert err.status_code == 400 and err.code and err.request_id
    assert "expires_at" in err.message


def test_the_specs_bounds_are_checked_before_sending(client: Keyward) -> None:
    # A bound the spec declares (pattern, length, range, item count) is a
    # ValueError naming the field, raised before any request.
    with pytest.raises(ValueError, match="`allowed_ips\\[0\\]` must match"):
        client.api_keys.create(name="bad", allowed_ips=["not-an-ip"])
    with pytest.raises(ValueError, match="`name` must be at most 200 characters long"):
        client.api_keys.create(name="n" * 201)
    with pytest.raises(ValueError, match="`limit` must be at least 1"):
        client.api_keys.list_page(limit=0)
    assert client.api_keys.list_page(limit=1) is not None


def test_authentication(server: Server) -> None:
    kw = Keyward("kw_live_" + "A" * 38, base_url=server.base_url, max_retries=0)
    with pytest.raises(keyward.AuthenticationError) as info:
        kw.api_keys.get(str(uuid.uuid4()))
    assert info.value.status_code == 401


def test_permission_denied(client: Keyward, server: Server) -> None:
    reader = client.api_keys.create(name="reader", scopes=["keys:read"])
    kw = Keyward(reader.key.get_secret_value(), base_url=server.base_url)
    assert isinstance(list(kw.api_keys.list(limit=1)), list)
    with pytest.raises(keyward.PermissionDeniedError) as info:
        kw.api_keys.create(name="nope")
    assert info.value.status_code == 403


def test_not_found(client: Keyward) -> None:
    with pytest.raises(keyward.NotFoundError) as info:
        client.projects.get(str(uuid.uuid4()))
    assert info.value.status_code == 404 and info.value.code == "not_found"


def test_conflict(client: Keyward) -> None:
    created = client.api_keys.create(name="revoked")
    client.api_keys.revoke(created.id)
    with pytest.raises(keyward.ConflictError) as info:
        client.api_keys.rotate(created.id)
    assert info.value.status_code == 409


def test_rate_limit(server: Server, proxy: Proxy) -> None:
    proxy.always = 429
    kw = Keyward(server.admin_key, base_url=proxy.base_url, max_retries=0)
    with pytest.raises(keyward.RateLimitError) as info:
        kw.api_keys.get(str(uuid.uuid4()))
    assert info.value.status_code == 429 and info.value.code == "injected"


def test_internal_server_error_after_retries(server: Server, proxy: Proxy) -> None:
    proxy.always = 503
    kw = Keyward(server.admin_key, base_url=proxy.base_url, max_retries=2)
    with pytest.raises(keyward.InternalServerError) as info:
        kw.api_keys.get(str(uuid.uuid4()))
    assert info.value.status_code == 503
    assert proxy.count("GET", "/v1/api-keys/") == 3  # first try + 2 retries


def test_other_status_is_api_status_error(server: Server, proxy: Proxy) -> None:
    proxy.always = 418
    kw = Keyward(server.admin_key, base_url=proxy.base_url, max_retries=0)
    with pytest.raises(keyward.APIStatusError) as info:
        kw.projects.get(str(uuid.uuid4()))
    assert type(info.value) is keyward.APIStatusError and info.value.status_code == 418


def test_connection_error() -> None:
    kw = Keyward("kw_live_x", base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)
    with pytest.raises(keyward.APIConnectionError) as info:
        kw.keys.verify(key="kw_live_x")
    assert not isinstance(info.value, keyward.APITimeoutError)


def test_timeout(server: Server, proxy: Proxy) -> None:
    proxy.delay = 1.0
    kw = Keyward(server.admin_key, base_url=proxy.base_url, timeout=0.2, max_retries=0)
    with pytest.raises(keyward.APITimeoutError):
        kw.keys.verify(key=server.admin_key)
    # A per-call override lifts it.
    assert kw.with_options(timeout=10).keys.verify(key=server.admin_key).valid


def test_secret_key_behaviour() -> None:
    sk = keyward.SecretKey("kros_live_abcdEFGH1234567890")
    assert str(sk) == "kros_live_abcd…" and repr(sk) == "SecretKey('kros_live_abcd…')"
    assert f"{sk}" == "kros_live_abcd…" and sk.prefix == "kros_live_abcd"
    assert sk.get_secret_value() == "kros_live_abcdEFGH1234567890"
    assert sk == keyward.SecretKey("kros_live_abcdEFGH1234567890") and sk != keyward.SecretKey("x")
    assert pickle.loads(pickle.dumps(sk)) == sk
    assert str(keyward.SecretKey("garbage")) == "**********"
    with pytest.raises(AttributeError):
        sk._value = "other"  # type: ignore[misc]


def test_extra_headers_go_with_the_call(server: Server, proxy: Proxy) -> None:
    kw = Keyward(server.admin_key, base_url=proxy.base_url)
    created = kw.api_keys.create(name="traced", extra_headers={"x-trace-id": "trace-1"})
    kw.api_keys.get(created.id)
    [first, second] = [headers for _, _, headers in proxy.seen]
    assert first.get("x-trace-id") == "trace-1" and "authorization" in first
    assert "x-trace-id" not in second, "only the call that asked for it"
    with pytest.raises(ValueError, match="bad header"):
        kw.api_keys.get(created.id, extra_headers={"bad header": "x"})
    assert len(proxy.seen) == 2, "nothing was sent"
