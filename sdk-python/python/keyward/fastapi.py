"""FastAPI integration: guard your own routes with keyward keys.

.. code-block:: python

    from fastapi import Depends, FastAPI
    from keyward import VerifyResult
    from keyward.fastapi import require_key

    app = FastAPI()

    @app.get("/reports")
    async def reports(key: VerifyResult = Depends(require_key(scopes=["reports:read"]))):
        return {"organization": key.organization_id}

The caller presents its key as ``Authorization: Bearer <key>`` or
``x-api-key: <key>``; the dependency verifies it with the keyward service and
returns the :class:`~keyward.VerifyResult`, or answers 401 (missing, unknown,
revoked, expired, disabled key), 403 (insufficient scopes, IP not allowed) or
429 (rate limited, usage exhausted; with ``Retry-After`` when known). When the
keyward service cannot be reached it answers 503.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timezone
from typing import Awaitable, Callable, Dict, Optional, Sequence

from fastapi import HTTPException, Request

from ._async import AsyncKeyward
from ._exceptions import KeywardError
from ._models import VerifyResult

__all__ = ["require_key", "extract_key"]

_STATUS_BY_CODE: Dict[str, int] = {
    "INSUFFICIENT_SCOPES": 403,
    "FORBIDDEN_IP": 403,
    "RATE_LIMITED": 429,
    "USAGE_EXCEEDED": 429,
}

_default_client: Optional[AsyncKeyward] = None


def _client() -> AsyncKeyward:
    global _default_client
    if _default_client is None:
        _default_client = AsyncKeyward()
    return _default_client


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


def require_key(
    scopes: Sequence[str] = (),
    *,
    client: Optional[AsyncKeyward] = None,
    cost: Optional[int] = None,
    check_ip: bool = True,
) -> Callable[[Request], Awaitable[VerifyResult]]:
    """A FastAPI dependency that admits only callers with a valid key holding ``scopes``.

    ``client`` defaults to an :class:`~keyward.AsyncKeyward` configured from
    ``KEYWARD_API_KEY``/``KEYWARD_BASE_URL`` (a key with ``keys:verify``).
    ``cost`` is the credits each request spends (server default 1).
    ``check_ip`` sends the caller's address so a key's ``allowed_ips`` apply.
    """
    required = list(scopes)

    async def dependency(request: Request) -> VerifyResult:
        key = extract_key(request)
        if key is None:
            raise HTTPException(
                status_code=401,
                detail={"code": "MISSING_KEY", "message": "an API key is required"},
                headers={"WWW-Authenticate": "Bearer"},
            )
        kw = client if client is not None else _client()
        try:
            result = await kw.keys.verify(
                key=key,
                ip=_client_ip(request) if check_ip else None,
                required_scopes=required or None,
                cost=cost,
            )
        except KeywardError as exc:
            raise HTTPException(
                status_code=503,
                detail={"code": "VERIFY_UNAVAILABLE", "message": "key verification is unavailable"},
            ) from exc
        if result.valid:
            return result
        status = _STATUS_BY_CODE.get(result.code, 401)
        headers: Dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if status == 429 and result.ratelimit is not None:
            wait = (result.ratelimit.reset_at - datetime.now(timezone.utc)).total_seconds()
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        raise HTTPException(
            status_code=status,
            detail={"code": result.code, "message": f"API key rejected: {result.code}"},
            headers=headers or None,
        )

    return dependency
