"""keyward: Python SDK for the keyward API-key service.

>>> from keyward import Keyward
>>> kw = Keyward()                      # KEYWARD_API_KEY / KEYWARD_BASE_URL
>>> created = kw.api_keys.create(name="ci")
>>> kw.keys.verify(key=created.key.get_secret_value()).valid
True

``AsyncKeyward`` has the same surface for asyncio. Both run one Rust client
(``keyward._native``, the same core as the Rust and Node SDKs).
``keyward.webhooks.verify`` checks the signature of a webhook keyward sent;
``client.webhook_endpoints`` / ``client.webhook_deliveries`` manage where
they go, and ``client.api_keys.import_keys`` brings existing keys over by hash.
"""

from . import _models, webhooks
from ._async import AsyncKeyward
from ._base import AsyncPageIterator, PageIterator, key_hash
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    KeywardError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WebhookVerificationError,
)
from ._models import *  # noqa: F403  (every result type, generated from the spec)
from ._models import VerifyKeyResponse
from ._operations import METHODS, OPERATIONS
from ._secret import SecretKey
from ._sync import Keyward

#: The result of ``keys.verify`` (the spec's ``VerifyKeyResponse``), by its earlier name.
VerifyResult = VerifyKeyResponse

__version__ = "0.1.0"

__all__ = [
    "Keyward",
    "AsyncKeyward",
    "SecretKey",
    "VerifyResult",
    "key_hash",
    "PageIterator",
    "AsyncPageIterator",
    "OPERATIONS",
    "METHODS",
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
    "webhooks",
]
__all__ += _models.__all__
