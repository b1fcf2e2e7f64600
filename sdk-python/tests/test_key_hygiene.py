"""Key hygiene against a real server: webhook endpoints (secret shown once),
deliveries received by a loopback HTTP receiver and checked with
``keyward.webhooks.verify``, dead-letter and redelivery, the organization's
signing secret for ``rotation_webhook_url``, key import by SHA-256, and the
projects' ``expiry_warning_days`` / ``leak_policy`` — sync and async.

The server (conftest) allows loopback webhook targets, polls its outbox every
50 ms and dead-letters after three attempts 200 ms apart. It is shared by the
whole session, so every endpoint made here is deleted afterwards, endpoints
subscribe only to the events a test needs, and requests and deliveries are
matched by the key they are about.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.server
import inspect
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, TypeVar

import keyward
import pytest
from keyward import AsyncKeyward, Keyward, webhooks

from .conftest import Server

T = TypeVar("T")

#: Bound on every wait for a delivery (they normally take well under a second).
WAIT_SECONDS = 20.0


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=90)

    return asyncio.run(bounded())


def wait_until(probe: Callable[[], Optional[T]], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll ``probe`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


async def async_wait_until(
    probe: Callable[[], Awaitable[Optional[T]]], what: str, timeout: float = WAIT_SECONDS
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


def random_secret() -> str:
    """A well-formed signing secret that keyward never issued."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


# --------------------------------------------------------------------------
# A loopback webhook receiver (stdlib http.server in a thread)
# --------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: Dict[str, str]
    body: bytes

    @property
    def event(self) -> Dict[str, Any]:
        """The body as JSON (unverified: for matching only)."""
        parsed: Dict[str, Any] = json.loads(self.body)
        return parsed

    def is_about(self, key_id: str, event_type: Optional[str] = None) -> bool:
        event = self.event
        about = event.get("data", {}).get("api_key", {}).get("id") == key_id
        return about and (event_type is None or event.get("type") == event_type)


class Receiver:
    """Records every POST and answers ``status`` (settable while running)."""

    def __init__(self) -> None:
        self.status = 200
        self.port = 0
        self._received: List[Received] = []
        self._lock = threading.Lock()

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record(self, request: Received) -> int:
        with self._lock:
            self._received.append(request)
            return self.status

    def about(self, key_id: str, event_type: Optional[str] = None) -> List[Received]:
        with self._lock:
            return [r for r in self._received if r.is_about(key_id, event_type)]

    def wait_for(
        self, key_id: str, event_type: Optional[str] = None, count: int = 1
    ) -> List[Received]:
        return wait_until(
            lambda: (lambda got: got if len(got) >= count else None)(self.about(key_id, event_type)),
            f"{count} × {event_type or 'any event'} about key {key_id} at the receiver",
        )

    async def async_wait_for(
        self, key_id: str, event_type: Optional[str] = None, count: int = 1
    ) -> List[Received]:
        async def probe() -> Optional[List[Received]]:
            got = self.about(key_id, event_type)
            return got if len(got) >= count else None

        return await async_wait_until(probe, f"{event_type or 'an event'} about key {key_id}")


def _receiver_handler(receiver: Receiver) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.record(Received(self.path, headers, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    return Handler


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(r))
    httpd.daemon_threads = True
    r.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture()
def endpoints(client: Keyward) -> Iterator[List[str]]:
    """Ids of endpoints to delete after the test (the server outlives it)."""
    ids: List[str] = []
    yield ids
    for id in ids:
        with contextlib.suppress(keyward.NotFoundError):
            client.webhook_endpoints.delete(id)


def deliveries_about(
    client: Keyward, key_id: str, **filters: Any
) -> List[keyward.WebhookDelivery]:
    return [
        d for d in client.webhook_deliveries.list(**filters)
        if d.payload.get("data", {}).get("api_key", {}).get("id") == key_id
    ]


# --------------------------------------------------------------------------
# Webhook endpoints
# --------------------------------------------------------------------------


def test_endpoint_crud_and_the_secret_shown_once(
    client: Keyward, server: Server, receiver: Receiver, endpoints: List[str]
) -> None:
    created = client.webhook_endpoints.create(
        url=receiver.url("/crud"),
        description="key events to ops",
        event_types=["api_key.rotated", "api_key.leaked"],
    )
    endpoints.append(created.id)
    assert isinstance(created, keyward.CreatedWebhookEndpoint)
    assert isinstance(created, keyward.WebhookEndpoint)
    assert created.url == receiver.url("/crud") and created.description == "key events to ops"
    assert sorted(created.event_types) == ["api_key.leaked", "api_key.rotated"]
    assert created.is_active is True and created.organization_id == server.org_id
    assert created.created_at.tzinfo is not None

    # The secret: a SecretKey, whsec_…, masked everywhere but get_secret_value().
    secret = created.secret
    assert isinstance(secret, keyward.SecretKey)
    plaintext = secret.get_secret_value()
    assert plaintext.startswith("whsec_") and len(plaintext) > len("whsec_") + 20
    webhooks.Webhook(plaintext)  # well-formed: decodes
    assert str(secret) == "whsec_…" and repr(secret) == "SecretKey('whsec_…')"
    for shown in (repr(created), str(created), repr(created.to_dict()), f"{created}"):
        assert plaintext not in shown and plaintext[len("whsec_"):] not in shown

    # Shown once: get and list return the endpoint without it.
    got = client.webhook_endpoints.get(created.id)
    assert type(got) is keyward.WebhookEndpoint and not hasattr(got, "secret")
    assert got == created.webhook_endpoint
    assert "secret" not in got.to_dict()

    second = client.webhook_endpoints.create(url=receiver.url("/crud2"))
    endpoints.append(second.id)
    assert second.event_types == [] and second.description is None  # every event
    assert second.secret != created.secret
    listed = [e.id for e in client.webhook_endpoints.list(limit=1)]  # one per page
    assert created.id in listed and second.id in listed
    assert listed.index(second.id) < listed.index(created.id)  # newest first
    assert all(isinstance(e, keyward.WebhookEndpoint) for e in client.webhook_endpoints.list())

    updated = client.webhook_endpoints.update(
        created.id, description="paused", is_active=False, event_types=[]
    )
    assert isinstance(updated, keyward.WebhookEndpoint) and not hasattr(updated, "secret")
    assert (updated.description, updated.is_active, updated.event_types) == ("paused", False, [])
    assert updated.url == created.url and updated.updated_at >= created.updated_at
    moved = client.webhook_endpoints.update(created.id, url=receiver.url("/moved"))
    assert moved.url == receiver.url("/moved") and moved.description == "paused"
    assert client.webhook_endpoints.get(created.id) == moved

    rotated = client.webhook_endpoints.rotate_secret(created.id)
    assert isinstance(rotated, keyward.CreatedWebhookEndpoint) and rotated.id == created.id
    assert rotated.secret.get_secret_value().startswith("whsec_")
    assert rotated.secret != created.secret and repr(rotated.secret) == "SecretKey('whsec_…')"

    # Invalid fields never leave the client: a bound the spec declares (the
    # URL's pattern) and a bad argument type are a ValueError naming the field.
    with pytest.raises(ValueError, match="`url` must match"):
        client.webhook_endpoints.create(url="ftp://example.com/hooks")
    with pytest.raises(ValueError, match="`url` must match"):
        client.webhook_endpoints.update(created.id, url="not a url")
    # A rule only the server knows: its 400 names the field.
    with pytest.raises(keyward.BadRequestError, match="url") as bad_url:
        client.webhook_endpoints.create(url="http://exa mple.com/hooks")
    assert bad_url.value.status_code == 400
    with pytest.raises(ValueError, match="event_types|unknown variant"):
        client.webhook_endpoints.create(url=receiver.url(), event_types=["api_key.exploded"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="UUID"):
        client.webhook_endpoints.get("not-a-uuid")

    client.webhook_endpoints.delete(created.id)
    with pytest.raises(keyward.NotFoundError):
        client.webhook_endpoints.get(created.id)
    with pytest.raises(keyward.NotFoundError):
        client.webhook_endpoints.rotate_secret(created.id)
    with pytest.raises(keyward.NotFoundError):
        client.webhook_endpoints.delete(created.id)
    assert created.id not in [e.id for e in client.webhook_endpoints.list()]


# --------------------------------------------------------------------------
# Deliveries: received, verified, listed, filtered
# --------------------------------------------------------------------------


def test_a_created_key_is_delivered_signed_and_listed(
    client: Keyward, receiver: Receiver, endpoints: List[str]
) -> None:
    endpoint = client.webhook_endpoints.create(
        url=receiver.url("/events"), event_types=["api_key.created", "api_key.revoked"]
    )
    endpoints.append(endpoint.id)
    secret = endpoint.secret.get_secret_value()
    key = client.api_keys.create(name="hooked", scopes=["reports:read"])

    [request] = receiver.wait_for(key.id, "api_key.created")
    assert request.path == "/events"
    event = webhooks.verify(request.body, request.headers, secret)
    assert event["type"] == "api_key.created"
    assert event["data"]["api_key"]["id"] == key.id
    assert event["data"]["api_key"]["scopes"] == ["reports:read"]
    assert key.key.get_secret_value() not in request.body.decode()  # never a plaintext key
    assert webhooks.Webhook(secret).verify(request.body, list(request.headers.items())) == event
    with pytest.raises(keyward.WebhookVerificationError) as wrong:
        webhooks.verify(request.body, request.headers, random_secret())
    assert wrong.value.code == "no_matching_signature"
    tampered = request.body.replace(b"hooked", b"hacked")
    with pytest.raises(keyward.WebhookVerificationError):
        webhooks.verify(tampered, request.headers, secret)

    def succeeded() -> Optional[List[keyward.WebhookDelivery]]:
        found = deliveries_about(client, key.id, endpoint_id=endpoint.id)
        return found if found and found[0].status == "succeeded" else None

    [delivery] = wait_until(succeeded, "the delivery to succeed")
    assert isinstance(delivery, keyward.WebhookDelivery)
    assert delivery.event_id == request.headers["webhook-id"]
    assert delivery.event_type == "api_key.created"
    assert delivery.endpoint_id == endpoint.id and delivery.api_key_id is None
    assert delivery.url == receiver.url("/events")
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert delivery.delivered_at is not None and delivery.created_at.tzinfo is not None
    assert delivery.payload == event
    assert client.webhook_deliveries.get(delivery.id) == delivery

    # Filters.
    def ids(**filters: Any) -> List[str]:
        return [d.id for d in client.webhook_deliveries.list(endpoint_id=endpoint.id, **filters)]

    assert delivery.id in ids(status="succeeded", event_type="api_key.created")
    assert delivery.id not in ids(status="failed")
    assert delivery.id not in ids(status="pending")
    assert delivery.id not in ids(event_type="api_key.revoked")
    other = client.webhook_endpoints.create(url=receiver.url("/other"), event_types=["api_key.leaked"])
    endpoints.append(other.id)
    assert [d.id for d in client.webhook_deliveries.list(endpoint_id=other.id)] == []

    # The endpoint's event filter: an update is not sent, a revoke is.
    client.api_keys.update(key.id, name="hooked-renamed")
    client.api_keys.revoke(key.id)
    [revoked] = receiver.wait_for(key.id, "api_key.revoked")
    assert webhooks.verify(revoked.body, revoked.headers, secret)["type"] == "api_key.revoked"
    assert revoked.headers["webhook-id"] != delivery.event_id
    assert receiver.about(key.id, "api_key.updated") == []
    assert deliveries_about(client, key.id, endpoint_id=endpoint.id, event_type="api_key.updated") == []
    both = deliveries_about(client, key.id, endpoint_id=endpoint.id, limit=1)  # one per page
    assert [d.event_type for d in both] == ["api_key.revoked", "api_key.created"]  # newest first

    with pytest.raises(ValueError, match="status"):
        list(client.webhook_deliveries.list(status="done"))  # type: ignore[arg-type]
    with pytest.raises(keyward.NotFoundError):
        client.webhook_deliveries.get(str(uuid.uuid4()))


def test_dead_letter_then_redeliver_with_the_rotated_secret(
    client: Keyward, receiver: Receiver, endpoints: List[str]
) -> None:
    receiver.status = 500
    endpoint = client.webhook_endpoints.create(
        url=receiver.url("/flaky"), event_types=["api_key.created"]
    )
    endpoints.append(endpoint.id)
    old_secret = endpoint.secret.get_secret_value()
    key = client.api_keys.create(name="dead-lettered")

    def failed() -> Optional[List[keyward.WebhookDelivery]]:
        return deliveries_about(client, key.id, endpoint_id=endpoint.id, status="failed") or None

    [dead] = wait_until(failed, "the delivery to be dead-lettered")
    assert dead.status == "failed" and dead.delivered_at is None
    assert (dead.attempts, dead.last_status_code) == (3, 500)  # the first try + 2 retries
    attempts = receiver.about(key.id)
    assert len(attempts) == 3
    assert {a.headers["webhook-id"] for a in attempts} == {dead.event_id}  # same id every attempt
    for attempt in attempts:
        webhooks.verify(attempt.body, attempt.headers, old_secret)

    rotated = client.webhook_endpoints.rotate_secret(endpoint.id)
    new_secret = rotated.secret.get_secret_value()
    receiver.status = 200
    queued = client.webhook_deliveries.redeliver(dead.id)
    assert isinstance(queued, keyward.WebhookDelivery)
    assert (queued.id, queued.event_id, queued.status) == (dead.id, dead.event_id, "pending")

    done = wait_until(
        lambda: (lambda d: d if d.status == "succeeded" else None)(client.webhook_deliveries.get(dead.id)),
        "the redelivery to succeed",
    )
    assert done.last_status_code == 200 and done.delivered_at is not None
    assert done.event_id == dead.event_id
    last = receiver.about(key.id)[-1]
    assert len(receiver.about(key.id)) == 4
    assert last.headers["webhook-id"] == dead.event_id
    assert webhooks.verify(last.body, last.headers, new_secret)["data"]["api_key"]["id"] == key.id
    with pytest.raises(keyward.WebhookVerificationError) as stale:
        webhooks.verify(last.body, last.headers, old_secret)
    assert stale.value.code == "no_matching_signature"
    assert dead.id in [
        d.id for d in client.webhook_deliveries.list(endpoint_id=endpoint.id, status="succeeded")
    ]

    with pytest.raises(keyward.NotFoundError):
        client.webhook_deliveries.redeliver(str(uuid.uuid4()))
    client.api_keys.revoke(key.id)


def test_signing_secret_signs_rotation_webhook_url_deliveries(
    client: Keyward, receiver: Receiver
) -> None:
    first = client.webhook_signing_secret.rotate().secret
    second = client.webhook_signing_secret.rotate().secret
    for secret in (first, second):
        assert isinstance(secret, keyward.SecretKey)
        assert secret.get_secret_value().startswith("whsec_")
        assert str(secret) == "whsec_…" and secret.get_secret_value() not in repr(secret)
    assert first != second

    key = client.api_keys.create(name="self-rotating", rotation_webhook_url=receiver.url("/rotation"))
    assert key.rotation_webhook_url == receiver.url("/rotation")
    rotated = client.api_keys.rotate(key.id, grace_period_seconds=60)

    [request] = receiver.wait_for(key.id, "api_key.rotated")
    assert request.path == "/rotation"
    event = webhooks.verify(request.body, request.headers, second.get_secret_value())
    assert event["data"]["new_api_key"]["id"] == rotated.new_key_id
    assert rotated.key.get_secret_value() not in request.body.decode()
    with pytest.raises(keyward.WebhookVerificationError):  # the replaced secret no longer signs
        webhooks.verify(request.body, request.headers, first.get_secret_value())

    [delivery] = wait_until(
        lambda: list(client.webhook_deliveries.list(api_key_id=key.id)) or None,
        "the key's own delivery to be listed",
    )
    assert delivery.api_key_id == key.id and delivery.endpoint_id is None
    assert delivery.event_type == "api_key.rotated" and delivery.url == receiver.url("/rotation")
    assert delivery.event_id == request.headers["webhook-id"]
    client.api_keys.revoke(rotated.new_key_id)


# --------------------------------------------------------------------------
# Key import
# --------------------------------------------------------------------------


def legacy_key() -> str:
    """A key from "your own key table": not in keyward's format (no checksum)."""
    return f"sk_live_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"


def test_import_by_hash_then_verify(client: Keyward, project: keyward.Project) -> None:
    legacy = legacy_key()
    digest = hashlib.sha256(legacy.encode()).hexdigest()
    assert keyward.key_hash(legacy) == digest
    expires = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    response = client.api_keys.import_keys(keys=[
        keyward.ImportedApiKey(
            key_hash=digest, key_prefix=legacy[:12], last4=legacy[-4:], name="legacy billing",
            project_id=project.id, scopes=["billing:read"], meta={"from": "legacy"},
            expires_at=expires, rate_limit=keyward.RateLimit(limit=100, window_ms=60_000),
        )
    ])
    assert isinstance(response, keyward.ImportApiKeysResponse)
    [imported] = response.imported
    assert type(imported) is keyward.ApiKey  # no plaintext: there is none to show
    assert imported.source == "import" and imported.name == "legacy billing"
    assert (imported.key_prefix, imported.last4) == (legacy[:12], legacy[-4:])
    assert imported.project_id == project.id and imported.scopes == ["billing:read"]
    assert imported.meta == {"from": "legacy"} and imported.expires_at == expires
    assert imported.rate_limit == keyward.RateLimit(limit=100, window_ms=60_000)
    assert client.api_keys.get(imported.id).source == "import"

    result = client.keys.verify(key=legacy, required_scopes=["billing:read"])
    assert (result.valid, result.code) == (True, "VALID")
    assert result.key_id == imported.id and result.meta == {"from": "legacy"}
    assert client.keys.verify(key=legacy + "x").valid is False

    # The same hash again: 409, nothing changes.
    with pytest.raises(keyward.ConflictError, match=r"keys\[0\]\.key_hash") as dup:
        client.api_keys.import_keys(keys=[{"key_hash": digest, "key_prefix": "sk_live_dupe", "name": "again"}])
    assert dup.value.status_code == 409

    # A bad field (a bound the spec declares): refused before sending, naming the item and field.
    with pytest.raises(ValueError, match=r"`keys\[0\]\.key_hash`"):
        client.api_keys.import_keys(keys=[{"key_hash": "not-a-sha256", "key_prefix": "sk_live_bad", "name": "bad"}])

    # All or none: a bad second item keeps the good first one out.
    other = legacy_key()
    good = {"key_hash": keyward.key_hash(other), "key_prefix": other[:12], "name": "good"}
    # The server refuses the second item (its hash repeats the first's) after
    # writing the first: the whole batch is rolled back.
    with pytest.raises(keyward.ConflictError, match=r"keys\[1\]\.key_hash"):
        client.api_keys.import_keys(keys=[good, {**good, "name": "again"}])
    assert client.keys.verify(key=other).valid is False
    with pytest.raises(ValueError, match="`keys` must hold at least 1 items"):
        client.api_keys.import_keys(keys=[])

    # A plain dict works too; an imported key revokes like any other.
    [plain] = client.api_keys.import_keys(keys=[good]).imported
    assert plain.source == "import" and plain.last4 == ""  # not given
    assert client.keys.verify(key=other).valid
    client.api_keys.revoke(plain.id)
    assert client.keys.verify(key=other).code == "REVOKED"
    client.api_keys.revoke(imported.id)

    # Bad arguments never reach the server.
    with pytest.raises(ValueError, match="colour"):
        client.api_keys.import_keys(keys=[{**good, "colour": "red"}])
    with pytest.raises(TypeError):
        client.api_keys.import_keys(keys="not a list")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        client.api_keys.import_keys(keys=[42])  # type: ignore[list-item]


# --------------------------------------------------------------------------
# Project policies
# --------------------------------------------------------------------------


def test_project_expiry_warning_days_and_leak_policy(client: Keyward) -> None:
    default = client.projects.create(name=f"hyg-{uuid.uuid4().hex[:8]}")
    assert (default.expiry_warning_days, default.leak_policy) == (7, "revoke")

    project = client.projects.create(
        name=f"hyg-{uuid.uuid4().hex[:8]}", expiry_warning_days=14, leak_policy="flag"
    )
    assert (project.expiry_warning_days, project.leak_policy) == (14, "flag")
    assert client.projects.get(project.id) == project
    assert project in list(client.projects.list())
    assert project.to_dict()["leak_policy"] == "flag"

    quiet = client.projects.update(project.id, expiry_warning_days=0)
    assert (quiet.expiry_warning_days, quiet.leak_policy) == (0, "flag")  # the other left alone
    revoking = client.projects.update(project.id, leak_policy="revoke")
    assert (revoking.expiry_warning_days, revoking.leak_policy) == (0, "revoke")
    renamed = client.projects.update(project.id, name=project.name + "-2")
    assert (renamed.expiry_warning_days, renamed.leak_policy) == (0, "revoke")

    with pytest.raises(ValueError, match="`expiry_warning_days` must be at most 365"):
        client.projects.update(project.id, expiry_warning_days=366)
    with pytest.raises(ValueError, match="leak_policy|unknown variant"):
        client.projects.create(name="x", leak_policy="delete")  # type: ignore[arg-type]
    assert client.projects.get(project.id) == renamed


# --------------------------------------------------------------------------
# The same through AsyncKeyward
# --------------------------------------------------------------------------


def test_async_endpoints_deliveries_and_redeliver(
    server: Server, receiver: Receiver, endpoints: List[str]
) -> None:
    async def main() -> None:
        async with AsyncKeyward(server.admin_key, base_url=server.base_url) as kw:
            created = await kw.webhook_endpoints.create(
                url=receiver.url("/async"), event_types=["api_key.created"], description="async"
            )
            endpoints.append(created.id)
            assert isinstance(created, keyward.CreatedWebhookEndpoint)
            secret = created.secret.get_secret_value()
            assert secret.startswith("whsec_") and secret not in repr(created)
            assert await kw.webhook_endpoints.get(created.id) == created.webhook_endpoint
            assert created.id in [e.id async for e in kw.webhook_endpoints.list(limit=1)]
            paused = await kw.webhook_endpoints.update(created.id, is_active=False)
            assert paused.is_active is False
            resumed = await kw.webhook_endpoints.update(created.id, is_active=True)
            assert resumed.is_active is True

            # Fail the first delivery to the end, then redeliver it.
            receiver.status = 500
            key = await kw.api_keys.create(name="async-hooked")

            async def failed() -> Optional[List[keyward.WebhookDelivery]]:
                found = [
                    d async for d in kw.webhook_deliveries.list(endpoint_id=created.id, status="failed")
                    if d.payload["data"]["api_key"]["id"] == key.id
                ]
                return found or None

            [dead] = await async_wait_until(failed, "the async delivery to be dead-lettered")
            assert dead.attempts == 3 and dead.last_status_code == 500
            assert await kw.webhook_deliveries.get(dead.id) == dead
            for attempt in receiver.about(key.id, "api_key.created"):
                assert webhooks.verify(attempt.body, attempt.headers, secret)["type"] == "api_key.created"

            receiver.status = 200
            queued = await kw.webhook_deliveries.redeliver(dead.id)
            assert queued.status == "pending" and queued.event_id == dead.event_id

            async def succeeded() -> Optional[keyward.WebhookDelivery]:
                d = await kw.webhook_deliveries.get(dead.id)
                return d if d.status == "succeeded" else None

            done = await async_wait_until(succeeded, "the async redelivery to succeed")
            assert done.last_status_code == 200
            [*_, last] = await receiver.async_wait_for(key.id, "api_key.created", count=4)
            assert last.headers["webhook-id"] == dead.event_id
            webhooks.verify(last.body, last.headers, secret)

            rotated = await kw.webhook_endpoints.rotate_secret(created.id)
            assert rotated.secret != created.secret and rotated.id == created.id
            signing = (await kw.webhook_signing_secret.rotate()).secret
            assert isinstance(signing, keyward.SecretKey) and str(signing) == "whsec_…"

            await kw.webhook_endpoints.delete(created.id)
            with pytest.raises(keyward.NotFoundError):
                await kw.webhook_endpoints.get(created.id)
            with pytest.raises(keyward.NotFoundError):
                await kw.webhook_deliveries.redeliver(str(uuid.uuid4()))
            await kw.api_keys.revoke(key.id)

    run(main())


def test_async_import_and_project_policies(server: Server) -> None:
    async def main() -> None:
        async with AsyncKeyward(server.admin_key, base_url=server.base_url) as kw:
            project = await kw.projects.create(
                name=f"ahyg-{uuid.uuid4().hex[:8]}", expiry_warning_days=3, leak_policy="flag"
            )
            assert (project.expiry_warning_days, project.leak_policy) == (3, "flag")
            updated = await kw.projects.update(project.id, expiry_warning_days=30, leak_policy="revoke")
            assert (updated.expiry_warning_days, updated.leak_policy) == (30, "revoke")
            assert await kw.projects.get(project.id) == updated

            legacy = legacy_key()
            digest = hashlib.sha256(legacy.encode()).hexdigest()
            [imported] = (await kw.api_keys.import_keys(keys=[
                keyward.ImportedApiKey(
                    key_hash=digest, key_prefix=legacy[:12], last4=legacy[-4:],
                    name="async legacy", project_id=project.id, environment="test",
                )
            ])).imported
            assert imported.source == "import" and imported.environment == "test"
            result = await kw.keys.verify(key=legacy)
            assert (result.valid, result.code, result.key_id) == (True, "VALID", imported.id)
            with pytest.raises(keyward.ConflictError):
                await kw.api_keys.import_keys(keys=[{"key_hash": digest, "key_prefix": "sk_d", "name": "d"}])
            with pytest.raises(ValueError, match=r"keys\[0\]\.key_hash"):
                await kw.api_keys.import_keys(keys=[{"key_hash": "xyz", "key_prefix": "sk_b", "name": "b"}])
            await kw.api_keys.revoke(imported.id)
            assert (await kw.keys.verify(key=legacy)).code == "REVOKED"

    run(main())


# --------------------------------------------------------------------------
# Surface parity and offline pieces
# --------------------------------------------------------------------------


def _surface(obj: Any) -> Dict[str, List[str]]:
    return {
        name: list(inspect.signature(getattr(obj, name)).parameters)
        for name in dir(obj) if not name.startswith("_")
    }


def test_sync_and_async_surfaces_match(server: Server) -> None:
    sync = Keyward(server.admin_key, base_url=server.base_url)
    asyn = AsyncKeyward(server.admin_key, base_url=server.base_url)
    for resource in ("webhook_endpoints", "webhook_deliveries", "webhook_signing_secret", "api_keys", "projects"):
        assert _surface(getattr(sync, resource)) == _surface(getattr(asyn, resource)), resource
    assert inspect.iscoroutinefunction(asyn.webhook_deliveries.redeliver)
    assert inspect.iscoroutinefunction(asyn.api_keys.import_keys)
    assert not inspect.iscoroutinefunction(asyn.webhook_deliveries.list)  # an async iterator
    assert set(_surface(sync.webhook_endpoints)) == {
        "create", "list", "list_page", "get", "update", "delete", "rotate_secret"
    }
    assert set(_surface(sync.webhook_deliveries)) == {"list", "list_page", "get", "redeliver"}


def test_key_hash_and_secret_masking_offline() -> None:
    assert keyward.key_hash("test") == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert keyward.key_hash("") == hashlib.sha256(b"").hexdigest()
    assert keyward.key_hash("ключ") == hashlib.sha256("ключ".encode()).hexdigest()
    with pytest.raises(TypeError):
        keyward.key_hash(b"bytes")  # type: ignore[arg-type]
    secret = keyward.SecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert (str(secret), secret.prefix) == ("whsec_…", "whsec_")
    assert "MfKQ" not in repr(secret)
    assert str(keyward.SecretKey("kw_live_abc1DEF2ghi3")) == "kw_live_abc1…"  # keys unchanged
    item = keyward.ImportedApiKey(key_hash="0" * 64, key_prefix="sk_live_ab12", name="n")
    assert item.to_dict()["last4"] is None
