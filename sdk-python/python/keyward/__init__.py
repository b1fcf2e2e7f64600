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

from . import webhooks
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
from ._models import (
    ApiKey,
    AuditActor,
    AuditEvent,
    AuditTarget,
    CreatedApiKey,
    CreatedWebhookEndpoint,
    Environment,
    ImportedApiKey,
    LeakPolicy,
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
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from ._secret import SecretKey
from ._sync import Keyward

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
    "LeakPolicy",
    "WebhookEndpoint",
    "CreatedWebhookEndpoint",
    "WebhookDelivery",
    "WebhookEventType",
    "WebhookDeliveryStatus",
    "ImportedApiKey",
    "key_hash",
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
