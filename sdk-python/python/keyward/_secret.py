"""``SecretKey``: a plaintext API key or webhook secret that does not leak into logs."""

from __future__ import annotations

import hmac
from typing import Any

__all__ = ["SecretKey"]

#: Everything after it in a webhook signing secret is key material.
_WEBHOOK_SECRET_PREFIX = "whsec_"


class SecretKey:
    """A plaintext secret the server shows once: an API key (create,
    regenerate, rotate, …) or a webhook signing secret (``whsec_…``: webhook
    endpoint create and ``rotate_secret``, ``webhook_signing_secret.rotate``).

    ``str()`` and ``repr()`` show only the public part: the key prefix
    (``kw_live_abc1…``), the same part the server stores and lists, or just
    ``whsec_…`` for a webhook secret. Call :meth:`get_secret_value` to read
    the secret itself, once, to hand it to your customer or configure a
    webhook receiver.
    """

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("SecretKey wraps a str")
        object.__setattr__(self, "_value", value)

    def get_secret_value(self) -> str:
        """The full plaintext key."""
        return self._value

    @property
    def prefix(self) -> str:
        """``{prefix}_{env}_`` plus the first 4 secret characters (the stored
        ``key_prefix``); ``whsec_`` for a webhook secret; else empty."""
        if self._value.startswith(_WEBHOOK_SECRET_PREFIX):
            return _WEBHOOK_SECRET_PREFIX
        parts = self._value.split("_", 2)
        if len(parts) == 3 and parts[2]:
            return f"{parts[0]}_{parts[1]}_{parts[2][:4]}"
        return ""

    def __str__(self) -> str:
        return f"{self.prefix}…" if self.prefix else "**********"

    def __repr__(self) -> str:
        return f"SecretKey('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretKey):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("keyward.SecretKey", self._value))

    def __len__(self) -> int:
        return len(self._value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("SecretKey is immutable")

    def __reduce__(self) -> Any:
        return (SecretKey, (self._value,))

    def __copy__(self) -> SecretKey:
        return self

    def __deepcopy__(self, memo: Any) -> SecretKey:
        return self
