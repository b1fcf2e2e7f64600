"""Type stubs for the pyo3 extension ``keyward._native`` (sdk-python/src/lib.rs).

Internal: use ``keyward.Keyward`` / ``keyward.AsyncKeyward``. Arguments and
results are JSON-shaped (dict/list/str/int/float/bool/None); errors are raised
as the classes in ``keyward._exceptions``.
"""

from typing import Any, Awaitable, Dict, List, Optional, Tuple

__version__: str

class NativeClient:
    def __init__(
        self,
        api_key: str,
        base_url: Optional[str] = None,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        connect_timeout: Optional[float] = None,
        user_agent: Optional[str] = None,
        organization_id: Optional[str] = None,
    ) -> None: ...
    @property
    def base_url(self) -> Optional[str]: ...
    @property
    def organization_id(self) -> Optional[str]: ...
    def call(
        self,
        op: str,
        args: Dict[str, Any],
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[List[Tuple[str, str]]] = None,
    ) -> Any:
        """Run ``op`` (e.g. ``"api_keys.get"``, one of ``keyward._operations.OPERATIONS``) to
        completion, the GIL released. ``args``: path and query parameters by name, the
        request body under ``"body"``; the result is the response JSON (None for none)."""
    def call_async(
        self,
        op: str,
        args: Dict[str, Any],
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        idempotency_key: Optional[str] = None,
        extra_headers: Optional[List[Tuple[str, str]]] = None,
    ) -> Awaitable[Any]:
        """An awaitable for ``op``; call from a coroutine (needs a running loop)."""

class NativeWebhook:
    """Standard Webhooks verification (``keyward::webhooks``); use ``keyward.webhooks``."""

    def __init__(self, secret: str, tolerance_seconds: int = 300) -> None: ...
    @property
    def tolerance_seconds(self) -> int: ...
    def verify(self, payload: bytes, headers: List[Tuple[str, str]]) -> Any:
        """The body parsed as JSON; raises ``WebhookVerificationError``."""
    def sign(self, msg_id: str, timestamp: int, payload: bytes) -> str: ...

def key_hash(key: str) -> str:
    """SHA-256 of ``key`` as 64 lower-case hex characters (``keyward::key_hash``)."""
