"""Exception classes raised by the keyward SDK.

Hierarchy::

    KeywardError
    ├── APIConnectionError          the request never got an HTTP answer
    │   └── APITimeoutError
    ├── APIResponseValidationError  the answer could not be decoded
    ├── APIStatusError              the server answered 4xx/5xx
    │   ├── BadRequestError         400, 422
    │   ├── AuthenticationError     401
    │   ├── PermissionDeniedError   403
    │   ├── NotFoundError           404
    │   ├── ConflictError           409
    │   ├── RateLimitError          429
    │   └── InternalServerError     >= 500
    └── WebhookVerificationError    a received webhook failed verification

The native module (Rust) raises these through :func:`_from_native`, so the
classes live here, in Python, and can be caught and subclassed normally.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

__all__ = [
    "KeywardError",
    "APIConnectionError",
    "APITimeoutError",
    "APIResponseValidationError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "InternalServerError",
    "WebhookVerificationError",
]


class KeywardError(Exception):
    """Base class of every error the SDK raises (except argument errors)."""

    message: str

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class APIConnectionError(KeywardError):
    """The server could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError):
    """The request (including its retries) timed out."""

    def __init__(self, message: str = "Request timed out.") -> None:
        super().__init__(message)


class APIResponseValidationError(KeywardError):
    """The server's answer did not match the API contract."""


class APIStatusError(KeywardError):
    """The server answered with a 4xx or 5xx status.

    ``code`` is the stable snake_case identifier from the error body (e.g.
    ``not_found``), ``message`` the human-readable text and ``request_id`` the
    ``x-request-id`` to quote to support.
    """

    status_code: int
    code: str
    request_id: Optional[str]

    def __init__(
        self, status_code: int, code: str, message: str, request_id: Optional[str] = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        rid = f", request_id={self.request_id}" if self.request_id else ""
        return f"{self.status_code} {self.code}: {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.status_code, self.code, self.message, self.request_id))


class BadRequestError(APIStatusError):
    """400 (or 422): the request was malformed; ``message`` names the field."""


class AuthenticationError(APIStatusError):
    """401: missing, malformed, revoked or unknown API key."""


class PermissionDeniedError(APIStatusError):
    """403: the key lacks the scope the operation needs."""


class NotFoundError(APIStatusError):
    """404: no such object (or it belongs to another tenant)."""


class ConflictError(APIStatusError):
    """409: e.g. rotating a revoked key, or an idempotency-key reuse."""


class RateLimitError(APIStatusError):
    """429: the calling key is over its own rate limit (after retries)."""


class InternalServerError(APIStatusError):
    """5xx: the server failed (after retries)."""


class WebhookVerificationError(KeywardError):
    """A received webhook is not authentic, or not current: answer 400 and drop it.

    Raised by :func:`keyward.webhooks.verify` and
    :meth:`keyward.webhooks.Webhook.verify`. ``code`` is the stable reason, the
    same in every keyward SDK: ``missing_header``, ``invalid_timestamp``,
    ``timestamp_too_old``, ``timestamp_too_new``, ``no_matching_signature`` or
    ``invalid_payload`` (signed, but not JSON). The message never contains the
    secret. A malformed *secret* raises ``ValueError`` instead (configuration,
    not a forged message).
    """

    code: str

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, code={self.code!r})"

    def __reduce__(self) -> Any:
        return (type(self), (self.message, self.code))


_STATUS_CLASSES: Dict[int, Type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: BadRequestError,
    429: RateLimitError,
}


def _status_class(status: int) -> Type[APIStatusError]:
    if status >= 500:
        return InternalServerError
    return _STATUS_CLASSES.get(status, APIStatusError)


def _from_native(info: Dict[str, Any]) -> BaseException:
    """Build the exception for an error dict from ``keyward._native``.

    ``info["kind"]`` is one of ``api``, ``timeout``, ``connection``,
    ``decode``, ``config``, ``argument``, ``webhook``.
    """
    kind = info.get("kind")
    message = str(info.get("message") or "")
    if kind == "api":
        status = int(info.get("status") or 0)
        cls = _status_class(status)
        return cls(status, str(info.get("code") or ""), message, info.get("request_id"))
    if kind == "timeout":
        return APITimeoutError(message or "Request timed out.")
    if kind == "connection":
        return APIConnectionError(message or "Connection error.")
    if kind == "decode":
        return APIResponseValidationError(message)
    if kind == "argument":
        return ValueError(message)
    if kind == "webhook":
        return WebhookVerificationError(message, str(info.get("code") or ""))
    return KeywardError(message)
