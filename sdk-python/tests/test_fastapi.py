"""keyward.fastapi.require_key through FastAPI's TestClient, against the real server."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any, Dict, Iterator

import keyward
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from keyward import AsyncKeyward, Keyward, VerifyResult
from keyward.fastapi import require_key

from .conftest import Proxy, Server, free_port


def make_app(kw: AsyncKeyward) -> FastAPI:
    app = FastAPI()

    @app.get("/docs-read")
    async def read(key: VerifyResult = Depends(require_key(scopes=["docs:read"], client=kw))) -> Dict[str, Any]:
        return {"key_id": key.key_id, "org": key.organization_id, "scopes": key.scopes}

    @app.get("/open")
    async def open_(key: VerifyResult = Depends(require_key(client=kw))) -> Dict[str, Any]:
        return {"name": key.name}

    return app


@pytest.fixture()
def http(server: Server) -> Iterator[TestClient]:
    kw = AsyncKeyward(server.admin_key, base_url=server.base_url)
    with TestClient(make_app(kw)) as tc:
        yield tc


def test_valid_key_with_scope(http: TestClient, client: Keyward, server: Server) -> None:
    created = client.api_keys.create(name="reader", scopes=["docs:read"])
    secret = created.key.get_secret_value()
    r = http.get("/docs-read", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"key_id": created.id, "org": server.org_id, "scopes": ["docs:read"]}
    r = http.get("/docs-read", headers={"x-api-key": secret})
    assert r.status_code == 200


def test_missing_and_unknown_keys_are_401(http: TestClient) -> None:
    r = http.get("/open")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert http.get("/open", headers={"Authorization": "Bearer kw_live_nope"}).status_code == 401
    assert http.get("/open", headers={"Authorization": "Basic abc"}).status_code == 401


def test_revoked_key_is_401(http: TestClient, client: Keyward) -> None:
    created = client.api_keys.create(name="gone")
    client.api_keys.revoke(created.id)
    r = http.get("/open", headers={"x-api-key": created.key.get_secret_value()})
    assert r.status_code == 401 and r.json()["detail"]["code"] == "REVOKED"


def test_insufficient_scope_is_403(http: TestClient, client: Keyward) -> None:
    created = client.api_keys.create(name="writer", scopes=["docs:write"])
    r = http.get("/docs-read", headers={"x-api-key": created.key.get_secret_value()})
    assert r.status_code == 403 and r.json()["detail"]["code"] == "INSUFFICIENT_SCOPES"


def test_rate_limited_is_429(server: Server, proxy: Proxy) -> None:
    # The verify answer is canned by the proxy so the test does not depend on
    # the server's limiter timing; the dependency maps it to 429 + Retry-After.
    canned = {"valid": False, "code": "RATE_LIMITED", "ratelimit": {
        "limit": 1, "remaining": 0, "reset_at": "2999-01-01T00:00:00Z"}}
    proxy.canned = ("/v1/keys/verify", 200, json.dumps(canned).encode())
    kw = AsyncKeyward(server.admin_key, base_url=proxy.base_url)
    with TestClient(make_app(kw)) as tc:
        r = tc.get("/open", headers={"x-api-key": "kw_live_whatever"})
    assert r.status_code == 429 and r.json()["detail"]["code"] == "RATE_LIMITED"
    assert int(r.headers["retry-after"]) >= 1


def test_service_unreachable_is_503(server: Server) -> None:
    kw = AsyncKeyward(server.admin_key, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)
    with TestClient(make_app(kw)) as tc:
        r = tc.get("/open", headers={"x-api-key": "kw_live_whatever"})
    assert r.status_code == 503


def test_example_app(server: Server, client: Keyward, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWARD_API_KEY", server.admin_key)
    monkeypatch.setenv("KEYWARD_BASE_URL", server.base_url)
    import keyward.fastapi as kf

    monkeypatch.setattr(kf, "_default_client", None)
    path = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location("fastapi_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reader = client.api_keys.create(name="example", scopes=["reports:read"])
    with TestClient(module.app) as tc:
        ok = tc.get("/reports", headers={"Authorization": f"Bearer {reader.key.get_secret_value()}"})
        assert ok.status_code == 200 and ok.json()["key_name"] == "example"
        assert tc.post("/reports", headers={"x-api-key": reader.key.get_secret_value()}).status_code == 403
    assert isinstance(kf._default_client, keyward.AsyncKeyward)
