"""keyward: Python SDK for the keyward API-key service.

>>> from keyward import Keyward
>>> kw = Keyward()                      # KEYWARD_API_KEY / KEYWARD_BASE_URL
>>> created = kw.api_keys.create(name="ci")
>>> kw.keys.verify(key=created.key.get_secret_value()).valid
True

``AsyncKeyward`` has the same surface for asyncio. Both run one Rust client
(``keyward._native``, the same core as the Rust and Node SDKs).
``keyward.webhooks.verify`` checks the signature of a webhook keyward sent.
"""

from ._async import AsyncKeyward
from ._base import AsyncPageIterator, PageIterator
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
from ._models import (
    ApiKey,
    AuditActor,
    AuditEvent,
    AuditTarget,
    CreatedApiKey,
    Environment,
    Member,
    Organization,
    Project,
    RateLimit,
    RateLimitState,
    Role,
    RotatedApiKey,
    UsageLimit,
    UsageRefill,
    VerifyResult,
)
from ._secret import SecretKey
from ._sync import Keyward
from . import webhooks

__version__ = "0.1.0"

__all__ = [
    "Keyward",
    "AsyncKeyward",
    "SecretKey",
    "ApiKey",
    "CreatedApiKey",
    "RotatedApiKey",
    "VerifyResult",
    "Project",
    "RateLimit",
    "RateLimitState",
    "UsageLimit",
    "UsageRefill",
    "Organization",
    "Member",
    "Role",
    "Environment",
    "AuditEvent",
    "AuditActor",
    "AuditTarget",
    "PageIterator",
    "AsyncPageIterator",
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
