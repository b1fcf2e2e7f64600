"""Verify the webhooks keyward sends (Standard Webhooks signatures).

Every delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64 HMAC-SHA256>`` entries)
headers. :func:`verify` checks that the timestamp is within
``tolerance_seconds`` (default 300) of this machine's clock, either way, that
one ``v1`` signature matches ``"{id}.{timestamp}.{body}"`` under the endpoint's
secret (``whsec_…``; compared in constant time, other versions ignored), and
returns the body parsed as JSON. Pass the raw body, exactly as received:

.. code-block:: python

    from fastapi import FastAPI, HTTPException, Request
    from keyward import WebhookVerificationError, webhooks

    app = FastAPI()
    hook = webhooks.Webhook(os.environ["KEYWARD_WEBHOOK_SECRET"])   # whsec_…

    @app.post("/keyward/events")
    async def keyward_events(request: Request) -> None:
        try:
            event = hook.verify(await request.body(), request.headers)
        except WebhookVerificationError as error:   # error.code: "no_matching_signature", …
            raise HTTPException(400, error.code)
        ...  # deduplicate on request.headers["webhook-id"]: deliveries are retried

The check runs in the Rust core (``keyward::webhooks``), the same code as the
Rust and Node SDKs. It makes no request, so it has no async twin: call it
from sync and async code alike.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, List, Mapping, Tuple, Union

from ._exceptions import WebhookVerificationError
from ._native import NativeWebhook

__all__ = [
    "verify",
    "Webhook",
    "WebhookVerificationError",
    "DEFAULT_TOLERANCE_SECONDS",
    "HeadersLike",
]

#: How far ``webhook-timestamp`` may be from the local clock, past or future.
DEFAULT_TOLERANCE_SECONDS = 300

#: A mapping of header names to values (a ``dict``, Starlette's ``Headers``, …)
#: or an iterable of ``(name, value)`` pairs. Names match case-insensitively; a
#: header listed more than once has its values joined with a space.
HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


def _body(payload: Union[bytes, str]) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(f"payload must be bytes or str, not {type(payload).__name__}")


def _text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        # Header bytes as HTTP servers hand them over (ASGI raw headers).
        return bytes(value).decode("latin-1")
    raise TypeError(f"header {what} must be str, not {type(value).__name__}")


def _pairs(headers: HeadersLike) -> List[Tuple[str, str]]:
    items: Iterable[Tuple[Any, Any]]
    if isinstance(headers, Mapping):
        items = headers.items()
    else:
        # Header classes that are not Mappings but have items() (werkzeug's), or pairs.
        items_method = getattr(headers, "items", None)
        items = items_method() if callable(items_method) else headers
    return [(_text(name, "name"), _text(value, "value")) for name, value in items]


def _tolerance(tolerance_seconds: int) -> int:
    if isinstance(tolerance_seconds, bool) or not isinstance(tolerance_seconds, int):
        raise TypeError("tolerance_seconds must be an int")
    if tolerance_seconds < 0:
        raise ValueError("tolerance_seconds must not be negative")
    return tolerance_seconds


class Webhook:
    """One webhook endpoint's secret: verifies (and signs) its messages.

    ``secret`` is the endpoint's ``whsec_…`` value (the bare base64 after
    ``whsec_`` works too); a malformed one raises ``ValueError`` here. Build
    it once and reuse it. Its ``repr`` never shows the secret.
    """

    __slots__ = ("_native",)

    def __init__(self, secret: str, *, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        if not isinstance(secret, str):
            raise TypeError("secret must be a str (whsec_…)")
        self._native = NativeWebhook(secret, _tolerance(tolerance_seconds))

    @property
    def tolerance_seconds(self) -> int:
        """How far ``webhook-timestamp`` may be from now, into the past or the future."""
        return self._native.tolerance_seconds

    def verify(self, payload: Union[bytes, str], headers: HeadersLike) -> Any:
        """Verify one message and return its body parsed as JSON.

        ``payload`` is the raw request body (``str`` is encoded as UTF-8);
        ``headers`` the request's headers. Raises
        :class:`~keyward.WebhookVerificationError` when a header is missing,
        the timestamp is malformed or outside the tolerance, no ``v1``
        signature matches, or the signed body is not JSON.
        """
        return self._native.verify(_body(payload), _pairs(headers))

    def sign(self, msg_id: str, timestamp: Union[int, datetime], payload: Union[bytes, str]) -> str:
        """The ``webhook-signature`` value (``v1,<base64>``) for a message.

        For tests, and for relaying events to your own receivers with this
        secret. ``timestamp`` is Unix seconds or a ``datetime`` (naive ones are
        UTC).
        """
        if isinstance(timestamp, datetime):
            if timestamp.tzinfo is None:
                timestamp = timestamp.replace(tzinfo=timezone.utc)
            seconds = int(timestamp.timestamp())
        elif isinstance(timestamp, int) and not isinstance(timestamp, bool):
            seconds = timestamp
        else:
            raise TypeError("timestamp must be an int (Unix seconds) or a datetime")
        return self._native.sign(msg_id, seconds, _body(payload))

    def __repr__(self) -> str:
        return f"Webhook(tolerance_seconds={self.tolerance_seconds})"


def verify(
    payload: Union[bytes, str],
    headers: HeadersLike,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Any:
    """Verify one webhook with ``secret`` and return its body parsed as JSON.

    Shorthand for ``Webhook(secret, tolerance_seconds=…).verify(payload,
    headers)``; keep a :class:`Webhook` instead when verifying many. Raises
    :class:`~keyward.WebhookVerificationError` for a message to reject and
    ``ValueError`` for a malformed secret.
    """
    return Webhook(secret, tolerance_seconds=tolerance_seconds).verify(payload, headers)
