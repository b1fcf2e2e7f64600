"""FastAPI integration: guard your own routes with keyward keys.

.. code-block:: python

    from fastapi import Depends, FastAPI
    from keyward import VerifyResult
    from keyward.fastapi import require_key

    app = FastAPI()
    reports_reader = require_key(scopes=["reports:read"])   # KEYWARD_API_KEY / KEYWARD_BASE_URL checked here

    @app.get("/reports")
    async def reports(key: VerifyResult = Depends(reports_reader)):
        return {"organization": key.organization_id}

The caller presents its key as ``Authorization: Bearer <key>`` or
``x-api-key: <key>``; the dependency verifies it with the keyward service and
returns the :class:`~keyward.VerifyResult`, or answers with the rejection every
keyward guard (Rust, Python, Node) answers with (docs/sdk-contract.md, "Guards:
the rejection contract"): JSON ``{"error", "code", "request_id"}``, 401
(missing, unknown, malformed, revoked, expired, disabled key; with
``WWW-Authenticate: Bearer realm="keyward"…``), 403 (insufficient scopes, IP
not allowed), 429 (rate limited, usage exhausted; ``Retry-After`` when known)
or 503 (keyward gave no verdict).

It fails loudly: without ``client=``, :func:`require_key` raises
:class:`~keyward.KeywardError` naming ``KEYWARD_API_KEY`` or
``KEYWARD_BASE_URL`` when either is missing, so the application does not
start; and when keyward refuses the guard's own key (401/403) or cannot be
reached, the ``keyward`` logger says so at most once per ``log_interval``
seconds while the requests get 503.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
import math
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, NoReturn, Optional, Sequence, Tuple, Union

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from ._async import AsyncKeyward
from ._exceptions import APIStatusError, KeywardError
from ._models import VerifyKeyResponse as VerifyResult

__all__ = ["require_key", "extract_key", "Rejection", "KeywardRejected", "rejection_handler"]

#: How often, at most, each kind of problem with keyward itself is logged (seconds).
DEFAULT_LOG_INTERVAL = 60.0

_REALM = 'Bearer realm="keyward"'

_STATUS_BY_CODE: Dict[str, int] = {
    "INSUFFICIENT_SCOPES": 403,
    "FORBIDDEN_IP": 403,
    "RATE_LIMITED": 429,
    "USAGE_EXCEEDED": 429,
}

# The same sentences as the Rust and Node guards (tests/fixtures/guard-rejections.json).
_MESSAGES: Dict[str, str] = {
    "NOT_FOUND": "the API key is not valid",
    "MALFORMED": "the API key is malformed",
    "REVOKED": "the API key was revoked",
    "EXPIRED": "the API key has expired",
    "DISABLED": "the API key is disabled",
    "INSUFFICIENT_SCOPES": "the API key lacks a required scope",
    "FORBIDDEN_IP": "the API key may not be used from this IP address",
    "RATE_LIMITED": "the API key's rate limit is exhausted",
    "USAGE_EXCEEDED": "the API key's usage limit is exhausted",
}
_MISSING_KEY = "an API key is required: send it as Authorization: Bearer <key> or x-api-key"
_UNAVAILABLE = "the API key could not be verified right now"

_logger = logging.getLogger("keyward")

# One client per (key, URL) from the environment, shared by every guard built from it.
_default_clients: Dict[Tuple[str, str], AsyncKeyward] = {}
_default_lock = threading.Lock()


def _client_from_env() -> AsyncKeyward:
    api_key = os.environ.get("KEYWARD_API_KEY", "").strip()
    if not api_key:
        raise KeywardError(
            "keyward.fastapi.require_key: KEYWARD_API_KEY is not set. Set it to a keyward API key "
            "with the keys:verify scope, or pass client=AsyncKeyward(...)."
        )
    base_url = os.environ.get("KEYWARD_BASE_URL", "").strip()
    if not base_url:
        raise KeywardError(
            "keyward.fastapi.require_key: KEYWARD_BASE_URL is not set. Set it to the keyward server's URL "
            "(e.g. https://keys.example.com), or pass client=AsyncKeyward(...)."
        )
    with _default_lock:
        client = _default_clients.get((api_key, base_url))
        if client is None:
            client = _default_clients[(api_key, base_url)] = AsyncKeyward(api_key, base_url=base_url)
        return client


def extract_key(request: Request) -> Optional[str]:
    """The key the caller presented: ``Authorization: Bearer …`` or ``x-api-key``."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _client_ip(request: Request) -> Optional[str]:
    host = request.client.host if request.client else None
    if not host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None  # e.g. Starlette's TestClient reports "testclient"


def _request_id(request: Request) -> Optional[str]:
    """The request's own ``x-request-id`` (from a proxy), when the keyward server would accept it too."""
    value = request.headers.get("x-request-id")
    if value and len(value) <= 200 and all(33 <= ord(c) <= 126 for c in value):
        return value
    return None


@dataclass(frozen=True)
class Rejection:
    """Why the guard turned a request away, and what it answers (see :meth:`response`).

    ``verdict`` is keyward's answer when it gave one (``valid=False``);
    ``error`` is why it gave none (the 503 case).
    """

    status_code: int
    code: str
    message: str
    request_id: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)
    verdict: Optional[VerifyResult] = None
    error: Optional[KeywardError] = None

    def body(self) -> Dict[str, Any]:
        """``{"error": message, "code": code, "request_id": request_id}``."""
        return {"error": self.message, "code": self.code, "request_id": self.request_id}

    def response(self) -> Response:
        """The documented answer: ``status_code``, the JSON :meth:`body` and ``headers``."""
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers or None)


class KeywardRejected(HTTPException):
    """Raised by the dependency to answer with ``response``.

    :func:`rejection_handler` sends ``response`` as it is; the dependency
    installs that handler on the running app the first time it rejects. (An
    app on a Starlette without per-request exception handlers should call
    ``app.add_exception_handler(KeywardRejected, rejection_handler)``; without
    it FastAPI answers the same status with ``{"detail": <body>}``.)
    """

    def __init__(self, rejection: Rejection, response: Response) -> None:
        super().__init__(status_code=response.status_code, detail=rejection.body(), headers=rejection.headers or None)
        self.rejection = rejection
        self.response = response


async def rejection_handler(request: Request, exc: Exception) -> Response:
    """The exception handler for :class:`KeywardRejected`: its ``response``, unchanged."""
    assert isinstance(exc, KeywardRejected)
    return exc.response


def _install_handler(request: Request) -> None:
    # Starlette (0.28+) resolves exception handlers through this scope entry at
    # the moment an exception is raised, so registering here takes effect for
    # the exception about to be raised.
    handlers = request.scope.get("starlette.exception_handlers")
    if isinstance(handlers, tuple) and handlers and isinstance(handlers[0], dict):
        handlers[0].setdefault(KeywardRejected, rejection_handler)


class _Alerts:
    """When each kind of problem with keyward itself was last logged."""

    def __init__(self) -> None:
        self._last: Dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, kind: str, interval: float) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < interval:
                return False
            self._last[kind] = now
            return True


# Per client, so every route guarded through one client logs a problem once.
_alerts: weakref.WeakKeyDictionary[AsyncKeyward, _Alerts] = weakref.WeakKeyDictionary()


def _alerts_for(client: AsyncKeyward) -> _Alerts:
    with _default_lock:
        alerts = _alerts.get(client)
        if alerts is None:
            alerts = _alerts[client] = _Alerts()
        return alerts


OnReject = Callable[[Rejection, Request], Union[Response, Awaitable[Response]]]


def require_key(
    scopes: Sequence[str] = (),
    *,
    client: Optional[AsyncKeyward] = None,
    cost: Optional[int] = None,
    check_ip: bool = True,
    on_reject: Optional[OnReject] = None,
    logger: Optional[logging.Logger] = None,
    log_interval: float = DEFAULT_LOG_INTERVAL,
) -> Callable[[Request], Awaitable[VerifyResult]]:
    """A FastAPI dependency that admits only callers with a valid key holding ``scopes``.

    ``client`` defaults to an :class:`~keyward.AsyncKeyward` built here, while
    the app starts, from ``KEYWARD_API_KEY`` (a key with ``keys:verify``) and
    ``KEYWARD_BASE_URL``, both required: a missing one raises
    :class:`~keyward.KeywardError` naming it.
    ``cost`` is the credits each request spends (server default 1).
    ``check_ip`` sends the caller's address so a key's ``allowed_ips`` apply.
    ``on_reject(rejection, request)`` returns the :class:`Response` to send
    instead of ``rejection.response()`` (it may be async).
    ``logger`` (default ``logging.getLogger("keyward")``) gets one error
    record per ``log_interval`` seconds when keyward refuses the guard's own
    key (401/403: configuration) or cannot be reached (outage).
    """
    required = list(scopes)
    kw = client if client is not None else _client_from_env()
    log = logger if logger is not None else _logger
    alerts = _alerts_for(kw)

    async def reject(request: Request, rejection: Rejection) -> NoReturn:
        if on_reject is not None:
            answer = on_reject(rejection, request)
            response = await answer if inspect.isawaitable(answer) else answer
        else:
            response = rejection.response()
        _install_handler(request)
        raise KeywardRejected(rejection, response)

    def alert(error: KeywardError) -> None:
        status = error.status_code if isinstance(error, APIStatusError) else None
        kind = "configuration" if status in (401, 403) else "outage"
        if not alerts.due(kind, log_interval):
            return
        if kind == "configuration":
            log.error(
                "keyward guard misconfigured (configuration): keyward at %s refused the guard's own API key (%s); "
                "KEYWARD_API_KEY must be a valid key with the keys:verify scope. Every guarded request answers 503 "
                "until this is fixed (logged at most once per %g s)",
                kw.base_url, error, log_interval,
                extra={"keyward_problem": kind},
            )
        else:
            log.error(
                "keyward guard cannot verify keys (outage): keyward at %s is unreachable or failing (%s); "
                "guarded requests answer 503 (logged at most once per %g s)",
                kw.base_url, error, log_interval,
                extra={"keyward_problem": kind},
            )

    async def dependency(request: Request) -> VerifyResult:
        request_id = _request_id(request)
        key = extract_key(request)
        if key is None:
            await reject(
                request, Rejection(401, "missing_key", _MISSING_KEY, request_id, {"WWW-Authenticate": _REALM})
            )
        try:
            result = await kw.keys.verify(
                key=key,
                ip=_client_ip(request) if check_ip else None,
                required_scopes=required or None,
                cost=cost,
            )
        except KeywardError as exc:
            # Fail closed: without an answer from keyward nobody gets in.
            alert(exc)
            await reject(request, Rejection(503, "verification_unavailable", _UNAVAILABLE, request_id, error=exc))
        if result.valid:
            return result
        status = _STATUS_BY_CODE.get(result.code, 401)
        headers: Dict[str, str] = {}
        if result.code == "INSUFFICIENT_SCOPES":
            challenge = f'{_REALM}, error="insufficient_scope"'
            headers["WWW-Authenticate"] = f'{challenge}, scope="{" ".join(required)}"' if required else challenge
        elif status == 401:
            headers["WWW-Authenticate"] = f'{_REALM}, error="invalid_token"'
        if result.code == "RATE_LIMITED" and result.ratelimit is not None:
            wait = (result.ratelimit.reset_at - datetime.now(timezone.utc)).total_seconds()
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        message = _MESSAGES.get(result.code, "the API key was rejected")
        await reject(
            request, Rejection(status, result.code.lower(), message, request_id, headers, verdict=result)
        )

    return dependency
