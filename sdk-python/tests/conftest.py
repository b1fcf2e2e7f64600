"""Fixtures: a real keyward server on a free port, clients, and a loopback proxy.

The server is ``target/debug/keyward`` (``cargo build -p keyward-server``;
override with ``KEYWARD_SERVER_BIN``). It prints the bootstrap admin key as its
first stdout line, then listens; we poll ``/healthz``. Every wait is bounded.

Webhooks (tests/test_key_hygiene.py): the server may deliver to loopback
receivers (``KEYWARD_WEBHOOK_ALLOW_PRIVATE``), polls its outbox every 50 ms, and
dead-letters a delivery after three attempts 200 ms apart, so retries and
redelivery are observable within a test.
"""

from __future__ import annotations

import http.client
import http.server
import os
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import keyward
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The server's HS256 session secret (``--jwt-secret``); see ``session_token``.
JWT_SECRET = "keyward-python-test-session-secret"


#: Server settings for the webhook tests (docs/key-hygiene.md).
WEBHOOK_SERVER_ENV = {
    "KEYWARD_WEBHOOK_ALLOW_PRIVATE": "true",
    "KEYWARD_WEBHOOK_POLL_INTERVAL_MS": "50",
    "KEYWARD_WEBHOOK_RETRY_DELAYS_MS": "200,200",
}


@dataclass
class Server:
    base_url: str
    admin_key: str
    org_id: str
    port: int
    jwt_secret: str = JWT_SECRET


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = Path(os.environ.get("KEYWARD_SERVER_BIN", ROOT / "target" / "debug" / "keyward"))
    if not binary.exists():
        pytest.exit(f"server binary {binary} missing: run `cargo build -p keyward-server`", 2)
    tmp = tmp_path_factory.mktemp("server")
    port = free_port()
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - the server writes to it until the session ends
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYWARD_")}
    env.update(WEBHOOK_SERVER_ENV)
    proc = subprocess.Popen(
        [str(binary), "--listen", f"127.0.0.1:{port}", "--database-url", f"sqlite://{tmp}/kw.db",
         "--jwt-secret", JWT_SECRET],
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    try:
        line: List[bytes] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        if not line or not line[0].strip():
            raise RuntimeError(f"server printed no admin key; log: {(tmp / 'server.log').read_text()[-2000:]}")
        admin_key = line[0].decode().strip()
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not become healthy within 30 s")
            time.sleep(0.05)
        kw = keyward.Keyward(admin_key, base_url=base_url)
        org_id = kw.keys.verify(key=admin_key).organization_id
        assert org_id
        yield Server(base_url=base_url, admin_key=admin_key, org_id=org_id, port=port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYWARD_API_KEY", raising=False)
    monkeypatch.delenv("KEYWARD_BASE_URL", raising=False)
    monkeypatch.delenv("KEYWARD_ORGANIZATION_ID", raising=False)


@pytest.fixture()
def client(server: Server) -> Iterator[keyward.Keyward]:
    with keyward.Keyward(server.admin_key, base_url=server.base_url) as kw:
        yield kw


@pytest.fixture()
def project(client: keyward.Keyward) -> keyward.Project:
    return client.projects.create(name=f"p-{uuid.uuid4().hex[:8]}")


# --------------------------------------------------------------------------
# A loopback proxy that can fail, delay or answer on its own, then forwards.
# --------------------------------------------------------------------------


@dataclass
class Proxy:
    upstream_port: int
    port: int = 0
    #: statuses to answer with (one per request) before forwarding again
    fail_with: List[int] = field(default_factory=list)
    #: answer every request with this status (not forwarded)
    always: Optional[int] = None
    #: answer requests whose path starts with canned[0] with (status, JSON body)
    canned: Optional[Tuple[str, int, bytes]] = None
    #: seconds to sleep before handling each request
    delay: float = 0.0
    #: (method, path, headers) of every request received
    seen: List[Tuple[str, str, Dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.seen if m == method and p.startswith(path_prefix))


def _handler(proxy: Proxy) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            with proxy.lock:
                proxy.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                status = proxy.always or (proxy.fail_with.pop(0) if proxy.fail_with else None)
            if proxy.delay:
                time.sleep(proxy.delay)
            if proxy.canned is not None and self.path.startswith(proxy.canned[0]):
                _, code, payload = proxy.canned
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if status is not None:
                payload = (
                    b'{"error":"injected by the test proxy","code":"injected","request_id":"proxy-req"}'
                )
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("x-request-id", "proxy-req")
                if status in (429, 503):
                    self.send_header("retry-after", "0")
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle

    return Handler


@pytest.fixture()
def proxy(server: Server) -> Iterator[Proxy]:
    p = Proxy(upstream_port=server.port)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(p))
    httpd.daemon_threads = True
    p.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield p
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
