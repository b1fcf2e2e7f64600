"""keyward.fastapi.require_key through FastAPI's TestClient, against the real server."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import keyward
import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from keyward import AsyncKeyward, Keyward, VerifyResult
from keyward.fastapi import Rejection, require_key
from starlette.requests import Request

from .conftest import ROOT, Proxy, Server, free_port

#: The answers every keyward guard gives (docs/sdk-contract.md#guards-the-rejection-contract).
FIXTURE = json.loads((ROOT / "tests" / "fixtures" / "guard-rejections.json").read_text())


def make_app(kw: AsyncKeyward, **options: Any) -> FastAPI:
    app = FastAPI()

    docs_reader = require_key(scopes=["docs:read"], client=kw, **options)

    @app.get("/docs-read")
    async def read(key: VerifyResult = Depends(docs_reader)) -> Dict[str, Any]:
        return {"key_id": key.key_id, "org": key.organization_id, "scopes": key.scopes}

    @app.get("/open")
    async def open_(key: VerifyResult = Depends(require_key(client=kw, **options))) -> Dict[str, Any]:
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
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="keyward"'
    assert r.json() == {"error": FIXTURE["cases"]["missing_key"]["body"]["error"], "code": "missing_key",
                        "request_id": None}
    assert http.get("/open", headers={"Authorization": "Bearer kw_live_nope"}).status_code == 401
    assert http.get("/open", headers={"Authorization": "Basic abc"}).status_code == 401


def test_revoked_key_is_401(http: TestClient, client: Keyward) -> None:
    created = client.api_keys.create(name="gone")
    client.api_keys.revoke(created.id)
    r = http.get("/open", headers={"x-api-key": created.key.get_secret_value()})
    assert r.status_code == 401 and r.json()["code"] == "revoked"
    assert r.headers["www-authenticate"] == 'Bearer realm="keyward", error="invalid_token"'


def test_insufficient_scope_is_403(http: TestClient, client: Keyward) -> None:
    created = client.api_keys.create(name="writer", scopes=["docs:write"])
    r = http.get("/docs-read", headers={"x-api-key": created.key.get_secret_value()})
    assert r.status_code == 403 and r.json()["code"] == "insufficient_scopes"
    assert r.headers["www-authenticate"] == 'Bearer realm="keyward", error="insufficient_scope", scope="docs:read"'


def test_rate_limited_is_429(server: Server, proxy: Proxy) -> None:
    # The verify answer is canned by the proxy so the test does not depend on
    # the server's limiter timing; the dependency maps it to 429 + Retry-After.
    canned = {"valid": False, "code": "RATE_LIMITED", "ratelimit": {
        "limit": 1, "remaining": 0, "reset_at": "2999-01-01T00:00:00Z"}}
    proxy.canned = ("/v1/keys/verify", 200, json.dumps(canned).encode())
    kw = AsyncKeyward(server.admin_key, base_url=proxy.base_url)
    with TestClient(make_app(kw)) as tc:
        r = tc.get("/open", headers={"x-api-key": "kw_live_whatever"})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert r.json()["error"] == "the API key's rate limit is exhausted"
    assert int(r.headers["retry-after"]) >= 1


def test_service_unreachable_is_503(server: Server) -> None:
    kw = AsyncKeyward(server.admin_key, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)
    with TestClient(make_app(kw)) as tc:
        r = tc.get("/open", headers={"x-api-key": "kw_live_whatever"})
    assert r.status_code == 503 and r.json()["code"] == "verification_unavailable"


def test_rejections_match_the_shared_fixture(server: Server, client: Keyward) -> None:
    scopes = FIXTURE["route_scopes"]
    reader = client.api_keys.create(name="reader", scopes=scopes).key.get_secret_value()
    other = client.api_keys.create(name="other", scopes=["billing:read"]).key.get_secret_value()
    revoked = client.api_keys.create(name="revoked", scopes=scopes)
    client.api_keys.revoke(revoked.id)

    def guarded(kw: AsyncKeyward) -> TestClient:
        app = FastAPI()

        @app.get("/reports")
        async def reports(key: VerifyResult = Depends(require_key(scopes=scopes, client=kw))) -> Dict[str, Any]:
            return {"name": key.name}

        return TestClient(app)

    online = AsyncKeyward(server.admin_key, base_url=server.base_url)
    offline = AsyncKeyward(server.admin_key, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)
    requests: Dict[str, Tuple[AsyncKeyward, Dict[str, str]]] = {
        "missing_key": (online, {}),
        "malformed": (online, {"x-api-key": "hello"}),
        "revoked": (online, {"authorization": f"Bearer {revoked.key.get_secret_value()}"}),
        "insufficient_scopes": (online, {"authorization": f"Bearer {other}"}),
        "verification_unavailable": (offline, {"authorization": f"Bearer {reader}"}),
    }
    assert set(FIXTURE["cases"]) == set(requests), "every fixture case has a request here"
    with guarded(online) as tc:
        assert tc.get("/reports", headers={"authorization": f"Bearer {reader}"}).status_code == 200
    for case, expected in FIXTURE["cases"].items():
        kw, headers = requests[case]
        if expected.get("x_request_id"):
            headers = {**headers, "x-request-id": expected["x_request_id"]}
        with guarded(kw) as tc:
            r = tc.get("/reports", headers=headers)
        assert r.status_code == expected["status"], case
        assert r.headers.get("www-authenticate") == expected["www_authenticate"], case
        assert r.headers["content-type"].startswith("application/json"), case
        assert r.json() == expected["body"], case


def test_on_reject_replaces_the_answer(server: Server, client: Keyward) -> None:
    seen: List[Tuple[str, Any]] = []

    async def on_reject(rejection: Rejection, request: Request) -> JSONResponse:
        seen.append((rejection.code, rejection.verdict.code if rejection.verdict else None))
        return JSONResponse({"denied": rejection.code, "path": request.url.path}, status_code=418)

    revoked = client.api_keys.create(name="gone")
    client.api_keys.revoke(revoked.id)
    kw = AsyncKeyward(server.admin_key, base_url=server.base_url)
    with TestClient(make_app(kw, on_reject=on_reject)) as tc:
        r = tc.get("/open")
        assert (r.status_code, r.json()) == (418, {"denied": "missing_key", "path": "/open"})
        r = tc.get("/open", headers={"x-api-key": revoked.key.get_secret_value()})
        assert (r.status_code, r.json()["denied"]) == (418, "revoked")
    assert seen == [("missing_key", None), ("revoked", "REVOKED")]


def _problems(caplog: pytest.LogCaptureFixture, kind: str) -> List[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "keyward" and getattr(r, "keyward_problem", None) == kind]


def test_refused_guard_key_is_logged_once_as_configuration(
    server: Server, client: Keyward, caplog: pytest.LogCaptureFixture
) -> None:
    caller = client.api_keys.create(name="caller", scopes=["docs:read"]).key.get_secret_value()
    # A key without keys:verify (keyward answers the guard 403), then one keyward does not know (401).
    for guard_key, status in ((caller, "403"), ("kw_live_notarealkey", "401")):
        caplog.clear()
        kw = AsyncKeyward(guard_key, base_url=server.base_url)
        with caplog.at_level(logging.ERROR, logger="keyward"), TestClient(make_app(kw)) as tc:
            for _ in range(3):
                r = tc.get("/open", headers={"x-api-key": caller})
                assert r.status_code == 503 and r.json()["code"] == "verification_unavailable"
        logged = _problems(caplog, "configuration")
        assert len(logged) == 1, [r.getMessage() for r in caplog.records]
        message = logged[0].getMessage()
        assert "KEYWARD_API_KEY" in message and status in message and logged[0].levelno == logging.ERROR
        assert not _problems(caplog, "outage")


def test_log_interval_bounds_the_logging(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    kw = AsyncKeyward("kw_live_notarealkey", base_url=server.base_url)
    with caplog.at_level(logging.ERROR, logger="keyward"), TestClient(make_app(kw, log_interval=0)) as tc:
        for _ in range(3):
            assert tc.get("/open", headers={"x-api-key": "kw_live_whatever"}).status_code == 503
    assert len(_problems(caplog, "configuration")) == 3


def test_unreachable_keyward_is_logged_once_as_outage(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    kw = AsyncKeyward(server.admin_key, base_url=url, max_retries=0)
    with caplog.at_level(logging.ERROR, logger="keyward"), TestClient(make_app(kw)) as tc:
        for _ in range(3):
            assert tc.get("/open", headers={"x-api-key": "kw_live_whatever"}).status_code == 503
    logged = _problems(caplog, "outage")
    assert len(logged) == 1 and url in logged[0].getMessage()
    assert not _problems(caplog, "configuration")


def _load_example() -> Any:
    path = Path(__file__).resolve().parents[1] / "examples" / "fastapi_app.py"
    spec = importlib.util.spec_from_file_location("fastapi_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_startup_fails_naming_the_missing_variable(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment is cleared by conftest's autouse fixture.
    with pytest.raises(keyward.KeywardError, match="KEYWARD_API_KEY"):
        require_key(scopes=["reports:read"])
    with pytest.raises(keyward.KeywardError, match="KEYWARD_API_KEY"):
        _load_example()  # the app does not start
    monkeypatch.setenv("KEYWARD_API_KEY", server.admin_key)
    with pytest.raises(keyward.KeywardError, match="KEYWARD_BASE_URL"):
        _load_example()
    monkeypatch.setenv("KEYWARD_BASE_URL", server.base_url)
    assert _load_example().app is not None


def test_example_app(server: Server, client: Keyward, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYWARD_API_KEY", server.admin_key)
    monkeypatch.setenv("KEYWARD_BASE_URL", server.base_url)
    import keyward.fastapi as kf

    module = _load_example()
    reader = client.api_keys.create(name="example", scopes=["reports:read"])
    with TestClient(module.app) as tc:
        ok = tc.get("/reports", headers={"Authorization": f"Bearer {reader.key.get_secret_value()}"})
        assert ok.status_code == 200 and ok.json()["key_name"] == "example"
        assert tc.post("/reports", headers={"x-api-key": reader.key.get_secret_value()}).status_code == 403
    assert isinstance(kf._default_clients[(server.admin_key, server.base_url)], keyward.AsyncKeyward)
