"""``keyward.Keyward``: the synchronous client.

Every call runs the Rust facade on a Rust runtime with the GIL released, so
calls from several threads proceed in parallel.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Mapping, Optional, Type

from ._base import _Config
from ._resources_sync import _SyncResources

__all__ = ["Keyward"]


class Keyward(_Config, _SyncResources):
    """Synchronous keyward client.

    ``api_key`` defaults to ``$KEYWARD_API_KEY`` and ``base_url`` to
    ``$KEYWARD_BASE_URL`` (else ``http://127.0.0.1:8080``). ``timeout`` (seconds
    per attempt, default 30) and ``max_retries`` (default 2; connection errors,
    timeouts, 408/429/5xx with backoff, honouring ``Retry-After``) apply to
    every call; override them for some calls with :meth:`with_options`.

    ``api_key`` may also be a dashboard session token (a JWT); then
    ``organization_id`` (default ``$KEYWARD_ORGANIZATION_ID``) picks the
    organization it acts in, sent as ``X-Organization-Id`` on every request
    (unset: the token's ``org_id`` claim, else the user's first organization).
    Paths naming an organization (``members``, ``organizations.get`` …) win.

    Thread-safe and fork-safe: share one client across threads; a forked
    child opens its own connections.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        connect_timeout: Optional[float] = None,
        organization_id: Optional[str] = None,
    ) -> None:
        self._configure(api_key, base_url, timeout, max_retries, connect_timeout, organization_id)
        self._resources(self)

    def with_options(
        self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> Keyward:
        """A client sharing this one's connections, with other per-call options:
        ``client.with_options(timeout=2, max_retries=0).keys.verify(key=...)``."""
        derived = Keyward.__new__(Keyward)
        derived._derive(self, timeout, max_retries)
        derived._resources(derived)
        return derived

    def _call(
        self,
        op: str,
        args: Dict[str, Any],
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[Mapping[str, str]] = None,
    ) -> Any:
        """Run ``op`` (``resource.method``, see ``keyward._operations``) through the
        native client; per-call options win over this client's (``with_options``)."""
        options = self._call_options(timeout, max_retries, idempotency_key, extra_headers)
        return self._native.call(op, args, **options)

    def close(self) -> None:
        """Stop using this client (connections are released when it is garbage-collected)."""
        self._closed = True

    def __enter__(self) -> Keyward:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

