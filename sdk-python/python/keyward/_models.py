"""Result types: plain dataclasses with attribute access and ``to_dict()``.

Dataclasses rather than pydantic: the Rust core already validated every
response against the OpenAPI contract (serde into the generated types), so a
second validation layer would only add a dependency and its version conflicts.
Timestamps are timezone-aware ``datetime`` objects (UTC); ids are strings.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Literal, Mapping, Optional, TypeVar

from ._secret import SecretKey

__all__ = [
    "ApiKey",
    "CreatedApiKey",
    "RotatedApiKey",
    "VerifyResult",
    "Project",
    "RateLimit",
    "RateLimitState",
    "UsageLimit",
    "UsageRefill",
    "Role",
    "Organization",
    "Member",
    "Environment",
    "AuditActor",
    "AuditTarget",
    "AuditEvent",
    "LeakPolicy",
    "WebhookEventType",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "CreatedWebhookEndpoint",
    "WebhookDelivery",
    "ImportedApiKey",
]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$"
)


def _dt(value: Any) -> datetime:
    """Parse RFC 3339 (any fraction length, ``Z``) into an aware datetime (3.9-safe)."""
    if isinstance(value, datetime):
        return value
    m = _RFC3339.match(str(value))
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if m.group(9):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = timezone(offset if m.group(9) == "+" else -offset)
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def _opt_dt(value: Any) -> Optional[datetime]:
    return None if value is None else _dt(value)


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _opt_int(value: Any) -> Optional[int]:
    return None if value is None else int(value)


_T = TypeVar("_T", bound="_Model")

#: A member's role in an organization (docs/roles.md has what each may do).
Role = Literal["owner", "admin", "member", "viewer"]

#: What a leak report does to a matching key of the project: revoke it at
#: once (the default), or only flag it (audited and announced as ``api_key.leaked``).
LeakPolicy = Literal["revoke", "flag"]

#: What happened to a key (docs/key-hygiene.md has when each is sent).
WebhookEventType = Literal[
    "api_key.created",
    "api_key.updated",
    "api_key.revoked",
    "api_key.regenerated",
    "api_key.rotated",
    "api_key.expiring",
    "api_key.rotation_due",
    "api_key.leaked",
    "api_key.usage_exceeded",
]

#: A delivery's state: still being attempted, delivered (a 2xx), or
#: dead-lettered after its last retry (send it again with ``redeliver``).
WebhookDeliveryStatus = Literal["pending", "succeeded", "failed"]


class _Model:
    def to_dict(self) -> Dict[str, Any]:
        """The fields as a dict (nested results as dicts; a ``SecretKey`` stays masked)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclasses.dataclass(frozen=True)
class RateLimit(_Model):
    """Requests (verify ``cost`` units) allowed per window."""

    limit: int
    window_ms: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RateLimit:
        return cls(limit=int(d["limit"]), window_ms=int(d["window_ms"]))


@dataclasses.dataclass(frozen=True)
class UsageRefill(_Model):
    amount: int
    interval_ms: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UsageRefill:
        return cls(amount=int(d["amount"]), interval_ms=int(d["interval_ms"]))


@dataclasses.dataclass(frozen=True)
class UsageLimit(_Model):
    """Credits a key may spend in total, optionally refilled on an interval."""

    remaining: int
    refill: Optional[UsageRefill] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> UsageLimit:
        refill = d.get("refill")
        return cls(
            remaining=int(d["remaining"]),
            refill=UsageRefill.from_dict(refill) if refill is not None else None,
        )


@dataclasses.dataclass(frozen=True)
class RateLimitState(_Model):
    limit: int
    remaining: int
    reset_at: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RateLimitState:
        return cls(limit=int(d["limit"]), remaining=int(d["remaining"]), reset_at=_dt(d["reset_at"]))


def _api_key_fields(d: Mapping[str, Any]) -> Dict[str, Any]:
    rate_limit = d.get("rate_limit")
    usage_limit = d.get("usage_limit")
    return dict(
        id=str(d["id"]),
        organization_id=str(d["organization_id"]),
        project_id=_opt_str(d.get("project_id")),
        environment_id=str(d["environment_id"]),
        environment=str(d["environment"]),
        name=str(d["name"]),
        key_prefix=str(d["key_prefix"]),
        last4=str(d["last4"]),
        scopes=list(d.get("scopes") or []),
        allowed_ips=list(d.get("allowed_ips") or []),
        meta=dict(d.get("meta") or {}),
        expires_at=_opt_dt(d.get("expires_at")),
        last_used_at=_opt_dt(d.get("last_used_at")),
        created_at=_dt(d["created_at"]),
        updated_at=_dt(d["updated_at"]),
        revoked_at=_opt_dt(d.get("revoked_at")),
        is_active=bool(d["is_active"]),
        created_by_user_id=_opt_str(d.get("created_by_user_id")),
        device_name=_opt_str(d.get("device_name")),
        source=str(d["source"]),
        rate_limit=RateLimit.from_dict(rate_limit) if rate_limit is not None else None,
        usage_limit=UsageLimit.from_dict(usage_limit) if usage_limit is not None else None,
        usage_count=int(d.get("usage_count") or 0),
        replaced_by_key_id=_opt_str(d.get("replaced_by_key_id")),
        grace_expires_at=_opt_dt(d.get("grace_expires_at")),
        rotation_interval_days=_opt_int(d.get("rotation_interval_days")),
        next_rotation_at=_opt_dt(d.get("next_rotation_at")),
        rotation_webhook_url=_opt_str(d.get("rotation_webhook_url")),
    )


@dataclasses.dataclass(frozen=True)
class ApiKey(_Model):
    """An API key as stored (masked: the plaintext is never retrievable)."""

    id: str
    organization_id: str
    project_id: Optional[str]
    environment_id: str
    environment: str
    name: str
    key_prefix: str
    last4: str
    scopes: List[str]
    allowed_ips: List[str]
    meta: Dict[str, Any]
    expires_at: Optional[datetime]
    last_used_at: Optional[datetime]
    created_at: datetime
    updated_at: datetime
    revoked_at: Optional[datetime]
    is_active: bool
    created_by_user_id: Optional[str]
    device_name: Optional[str]
    source: str
    rate_limit: Optional[RateLimit]
    usage_limit: Optional[UsageLimit]
    usage_count: int
    replaced_by_key_id: Optional[str]
    grace_expires_at: Optional[datetime]
    rotation_interval_days: Optional[int]
    next_rotation_at: Optional[datetime]
    rotation_webhook_url: Optional[str]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ApiKey:
        return cls(**_api_key_fields(d))


@dataclasses.dataclass(frozen=True)
class CreatedApiKey(ApiKey):
    """An :class:`ApiKey` plus its plaintext ``key`` (shown exactly once)."""

    key: SecretKey

    @classmethod
    def from_native(cls, d: Mapping[str, Any]) -> CreatedApiKey:
        return cls(**_api_key_fields(d["api_key"]), key=SecretKey(str(d["key"])))

    @property
    def api_key(self) -> ApiKey:
        """The key without its plaintext."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(ApiKey)}
        return ApiKey(**fields)


@dataclasses.dataclass(frozen=True)
class RotatedApiKey(_Model):
    """The result of a rotation: a new key (new id, same settings) replacing the old one."""

    old_key_id: str
    new_key_id: str
    project_id: Optional[str]
    name: str
    key: SecretKey
    key_prefix: str
    scopes: List[str]
    expires_at: Optional[datetime]
    created_at: datetime
    grace_expires_at: Optional[datetime]

    @classmethod
    def from_native(cls, d: Mapping[str, Any]) -> RotatedApiKey:
        r = d["rotation"]
        return cls(
            old_key_id=str(r["old_key_id"]),
            new_key_id=str(r["new_key_id"]),
            project_id=_opt_str(r.get("project_id")),
            name=str(r["name"]),
            key=SecretKey(str(d["key"])),
            key_prefix=str(r["key_prefix"]),
            scopes=list(r.get("scopes") or []),
            expires_at=_opt_dt(r.get("expires_at")),
            created_at=_dt(r["created_at"]),
            grace_expires_at=_opt_dt(r.get("grace_expires_at")),
        )


@dataclasses.dataclass(frozen=True)
class VerifyResult(_Model):
    """The answer of ``keys.verify``: ``valid`` and a ``code`` always, the rest when known.

    ``code`` is one of ``VALID``, ``NOT_FOUND``, ``MALFORMED``, ``REVOKED``,
    ``EXPIRED``, ``FORBIDDEN_IP``, ``INSUFFICIENT_SCOPES``, ``RATE_LIMITED``,
    ``USAGE_EXCEEDED``, ``DISABLED``.
    """

    valid: bool
    code: str
    key_id: Optional[str] = None
    organization_id: Optional[str] = None
    project_id: Optional[str] = None
    environment: Optional[str] = None
    name: Optional[str] = None
    scopes: Optional[List[str]] = None
    meta: Optional[Dict[str, Any]] = None
    expires_at: Optional[datetime] = None
    grace_expires_at: Optional[datetime] = None
    ratelimit: Optional[RateLimitState] = None
    remaining: Optional[int] = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VerifyResult:
        ratelimit = d.get("ratelimit")
        scopes = d.get("scopes")
        meta = d.get("meta")
        return cls(
            valid=bool(d["valid"]),
            code=str(d["code"]),
            key_id=_opt_str(d.get("key_id")),
            organization_id=_opt_str(d.get("organization_id")),
            project_id=_opt_str(d.get("project_id")),
            environment=_opt_str(d.get("environment")),
            name=_opt_str(d.get("name")),
            scopes=list(scopes) if scopes is not None else None,
            meta=dict(meta) if meta is not None else None,
            expires_at=_opt_dt(d.get("expires_at")),
            grace_expires_at=_opt_dt(d.get("grace_expires_at")),
            ratelimit=RateLimitState.from_dict(ratelimit) if ratelimit is not None else None,
            remaining=_opt_int(d.get("remaining")),
        )


@dataclasses.dataclass(frozen=True)
class Project(_Model):
    """A project: key defaults and its key-hygiene policies.

    ``expiry_warning_days``: days before a key's ``expires_at`` /
    ``next_rotation_at`` that ``api_key.expiring`` / ``api_key.rotation_due``
    go out, once (0: never). ``leak_policy``: what a leak report does to a
    matching key (``revoke`` or ``flag``). Both come last, with the server's
    defaults, so code constructing a ``Project`` positionally keeps working.
    """

    id: str
    organization_id: str
    name: str
    key_prefix: Optional[str]
    default_scopes: Optional[List[str]]
    default_rate_limit: Optional[RateLimit]
    default_ttl_seconds: Optional[int]
    default_grace_period_seconds: Optional[int]
    created_at: datetime
    updated_at: datetime
    expiry_warning_days: int = 7
    leak_policy: LeakPolicy = "revoke"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Project:
        rl = d.get("default_rate_limit")
        scopes = d.get("default_scopes")
        return cls(
            id=str(d["id"]),
            organization_id=str(d["organization_id"]),
            name=str(d["name"]),
            key_prefix=_opt_str(d.get("key_prefix")),
            default_scopes=list(scopes) if scopes is not None else None,
            default_rate_limit=RateLimit.from_dict(rl) if rl is not None else None,
            default_ttl_seconds=_opt_int(d.get("default_ttl_seconds")),
            default_grace_period_seconds=_opt_int(d.get("default_grace_period_seconds")),
            created_at=_dt(d["created_at"]),
            updated_at=_dt(d["updated_at"]),
            expiry_warning_days=int(d["expiry_warning_days"]),
            leak_policy=d["leak_policy"],
        )


@dataclasses.dataclass(frozen=True)
class Organization(_Model):
    """An organization (tenant). ``role`` is the caller's role in it when the
    caller is a user session (``owner``, ``admin``, ``member``, ``viewer``);
    ``None`` for an API key."""

    id: str
    name: str
    key_prefix: str
    role: Optional[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Organization:
        return cls(
            id=str(d["id"]),
            name=str(d["name"]),
            key_prefix=str(d["key_prefix"]),
            role=_opt_str(d.get("role")),
            created_at=_dt(d["created_at"]),
            updated_at=_dt(d["updated_at"]),
        )


@dataclasses.dataclass(frozen=True)
class Member(_Model):
    """A user's membership: ``user_id`` is their session token's ``sub``."""

    organization_id: str
    user_id: str
    role: str
    created_at: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Member:
        return cls(
            organization_id=str(d["organization_id"]),
            user_id=str(d["user_id"]),
            role=str(d["role"]),
            created_at=_dt(d["created_at"]),
        )


@dataclasses.dataclass(frozen=True)
class Environment(_Model):
    """An environment (``live``, ``test``, …), shared by an organization's projects."""

    id: str
    organization_id: str
    name: str
    created_at: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Environment:
        return cls(
            id=str(d["id"]),
            organization_id=str(d["organization_id"]),
            name=str(d["name"]),
            created_at=_dt(d["created_at"]),
        )


@dataclasses.dataclass(frozen=True)
class AuditActor(_Model):
    """Who did it: ``type`` is ``user`` (``id`` = the session's ``sub``) or ``api_key``."""

    type: str
    id: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditActor:
        return cls(type=str(d["type"]), id=str(d["id"]))


@dataclasses.dataclass(frozen=True)
class AuditTarget(_Model):
    """What it was done to: ``type`` is ``api_key``, ``organization``, ``user``
    (a membership), ``project``, ``environment`` or ``route``."""

    type: str
    id: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditTarget:
        return cls(type=str(d["type"]), id=str(d["id"]))


@dataclasses.dataclass(frozen=True)
class AuditEvent(_Model):
    """One entry of the append-only audit log (never holds a plaintext key or token)."""

    id: str
    organization_id: str
    action: str
    actor: AuditActor
    target: AuditTarget
    changes: Dict[str, Any]
    ip: Optional[str]
    user_agent: Optional[str]
    request_id: Optional[str]
    created_at: datetime
    #: How many times it happened: failed or denied authentication is one
    #: event per credential, address and minute with a count; others are 1.
    count: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AuditEvent:
        return cls(
            id=str(d["id"]),
            organization_id=str(d["organization_id"]),
            action=str(d["action"]),
            actor=AuditActor.from_dict(d["actor"]),
            target=AuditTarget.from_dict(d["target"]),
            changes=dict(d.get("changes") or {}),
            ip=_opt_str(d.get("ip")),
            user_agent=_opt_str(d.get("user_agent")),
            request_id=_opt_str(d.get("request_id")),
            created_at=_dt(d["created_at"]),
            count=int(d.get("count", 1)),
        )


def _webhook_endpoint_fields(d: Mapping[str, Any]) -> Dict[str, Any]:
    return dict(
        id=str(d["id"]),
        organization_id=str(d["organization_id"]),
        url=str(d["url"]),
        description=_opt_str(d.get("description")),
        event_types=list(d.get("event_types") or []),
        is_active=bool(d["is_active"]),
        created_at=_dt(d["created_at"]),
        updated_at=_dt(d["updated_at"]),
    )


@dataclasses.dataclass(frozen=True)
class WebhookEndpoint(_Model):
    """A destination for the organization's key events (its secret is not
    shown again after creation: rotate it to get a new one).

    ``event_types`` empty means every event; ``is_active=False`` pauses
    deliveries (events are not queued for it meanwhile)."""

    id: str
    organization_id: str
    url: str
    description: Optional[str]
    event_types: List[WebhookEventType]
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WebhookEndpoint:
        return cls(**_webhook_endpoint_fields(d))


@dataclasses.dataclass(frozen=True)
class CreatedWebhookEndpoint(WebhookEndpoint):
    """A :class:`WebhookEndpoint` plus its signing ``secret`` (``whsec_…``, a
    :class:`SecretKey`), returned only by create and ``rotate_secret``.
    Pass ``secret.get_secret_value()`` to :func:`keyward.webhooks.verify` in
    your receiver."""

    secret: SecretKey

    @classmethod
    def from_native(cls, d: Mapping[str, Any]) -> CreatedWebhookEndpoint:
        return cls(**_webhook_endpoint_fields(d["endpoint"]), secret=SecretKey(str(d["secret"])))

    @property
    def endpoint(self) -> WebhookEndpoint:
        """The endpoint without its secret."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(WebhookEndpoint)}
        return WebhookEndpoint(**fields)


@dataclasses.dataclass(frozen=True)
class WebhookDelivery(_Model):
    """One event on its way to one destination: an endpoint (``endpoint_id``)
    or a key's own ``rotation_webhook_url`` (``api_key_id``).

    ``event_id`` is the ``webhook-id`` header, the same on every attempt and
    redelivery (receivers deduplicate on it); ``payload`` is the signed body,
    ``{"type", "timestamp", "data"}``; ``last_status_code`` is ``None`` when
    the last attempt got no answer (``last_error`` says why)."""

    id: str
    event_id: str
    event_type: WebhookEventType
    endpoint_id: Optional[str]
    api_key_id: Optional[str]
    url: str
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: Optional[datetime]
    last_attempt_at: Optional[datetime]
    last_status_code: Optional[int]
    last_error: Optional[str]
    delivered_at: Optional[datetime]
    created_at: datetime
    payload: Dict[str, Any]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WebhookDelivery:
        return cls(
            id=str(d["id"]),
            event_id=str(d["event_id"]),
            event_type=d["event_type"],
            endpoint_id=_opt_str(d.get("endpoint_id")),
            api_key_id=_opt_str(d.get("api_key_id")),
            url=str(d["url"]),
            status=d["status"],
            attempts=int(d["attempts"]),
            next_attempt_at=_opt_dt(d.get("next_attempt_at")),
            last_attempt_at=_opt_dt(d.get("last_attempt_at")),
            last_status_code=_opt_int(d.get("last_status_code")),
            last_error=_opt_str(d.get("last_error")),
            delivered_at=_opt_dt(d.get("delivered_at")),
            created_at=_dt(d["created_at"]),
            payload=dict(d.get("payload") or {}),
        )


@dataclasses.dataclass(frozen=True)
class ImportedApiKey(_Model):
    """An existing key to import with ``api_keys.import_keys``, known by its
    hash: the plaintext is never sent.

    ``key_hash`` is the SHA-256 of the key's full text as 64 hex characters
    (:func:`keyward.key_hash`, or what your own key table stores);
    ``key_prefix`` is what people see of it (e.g. ``sk_live_ab12``, 1-32
    printable characters) and ``last4`` its last 4 characters, if known.
    ``project_id`` defaults to the calling key's project, ``environment`` to
    ``live``. A plain dict with these keys works too."""

    key_hash: str
    key_prefix: str
    name: str
    last4: Optional[str] = None
    project_id: Optional[str] = None
    environment: Optional[str] = None
    scopes: Optional[List[str]] = None
    expires_at: Optional[datetime] = None
    allowed_ips: Optional[List[str]] = None
    meta: Optional[Dict[str, Any]] = None
    rate_limit: Optional[RateLimit] = None
    usage_limit: Optional[UsageLimit] = None
