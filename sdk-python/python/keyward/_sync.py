"""``keyward.Keyward``: the synchronous client.

Every call runs the Rust facade on a Rust runtime with the GIL released, so
calls from several threads proceed in parallel.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Type, Union

from ._base import Page, PageIterator, _audit_filters, _body, _Config, _import_items
from ._models import (
    ApiKey,
    AuditEvent,
    CreatedApiKey,
    CreatedWebhookEndpoint,
    Environment,
    ImportedApiKey,
    LeakPolicy,
    Member,
    Organization,
    Project,
    RateLimit,
    Role,
    RotatedApiKey,
    UsageLimit,
    VerifyResult,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from ._secret import SecretKey

__all__ = ["Keyward"]

RateLimitArg = Union[RateLimit, Mapping[str, Any]]
UsageLimitArg = Union[UsageLimit, Mapping[str, Any]]
Timestamp = Union[datetime, str]
ImportedApiKeyArg = Union[ImportedApiKey, Mapping[str, Any]]


class ApiKeys:
    """``/v1/api-keys``: the project-level key family."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def create(
        self,
        *,
        name: str,
        project_id: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        expires_at: Optional[Timestamp] = None,
        allowed_ips: Optional[Sequence[str]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        rate_limit: Optional[RateLimitArg] = None,
        usage_limit: Optional[UsageLimitArg] = None,
        environment: Optional[str] = None,
        device_name: Optional[str] = None,
        rotation_interval_days: Optional[int] = None,
        rotation_webhook_url: Optional[str] = None,
    ) -> CreatedApiKey:
        """Create a key; the result's ``key`` (a :class:`SecretKey`) is shown only now."""
        body = _body(
            name=name, project_id=project_id, scopes=scopes, expires_at=expires_at,
            allowed_ips=allowed_ips, meta=meta, rate_limit=rate_limit, usage_limit=usage_limit,
            environment=environment, device_name=device_name,
            rotation_interval_days=rotation_interval_days,
            rotation_webhook_url=rotation_webhook_url,
        )
        return CreatedApiKey.from_native(self._client._call("api_keys.create", {"body": body}))

    def list(
        self,
        *,
        project_id: Optional[str] = None,
        environment: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> PageIterator[ApiKey]:
        """Every key the caller can see, newest first; ``limit`` is the page size."""

        def fetch(cursor: Optional[str]) -> Page[ApiKey]:
            page = self._client._call(
                "api_keys.list_page",
                {"project_id": project_id, "environment": environment, "limit": limit,
                 "starting_after": cursor},
            )
            return [ApiKey.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def get(self, id: str) -> ApiKey:
        return ApiKey.from_dict(self._client._call("api_keys.get", {"id": id}))

    def update(
        self,
        id: str,
        *,
        name: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        expires_at: Optional[Timestamp] = None,
        allowed_ips: Optional[Sequence[str]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        rate_limit: Optional[RateLimitArg] = None,
        usage_limit: Optional[UsageLimitArg] = None,
        is_active: Optional[bool] = None,
        device_name: Optional[str] = None,
        rotation_interval_days: Optional[int] = None,
        rotation_webhook_url: Optional[str] = None,
    ) -> ApiKey:
        """Partial update: arguments left out (None) are left alone."""
        body = _body(
            name=name, scopes=scopes, expires_at=expires_at, allowed_ips=allowed_ips, meta=meta,
            rate_limit=rate_limit, usage_limit=usage_limit, is_active=is_active,
            device_name=device_name, rotation_interval_days=rotation_interval_days,
            rotation_webhook_url=rotation_webhook_url,
        )
        return ApiKey.from_dict(self._client._call("api_keys.update", {"id": id, "body": body}))

    def revoke(self, id: str) -> None:
        """Revoke the key (idempotent)."""
        self._client._call("api_keys.revoke", {"id": id})

    def regenerate(self, id: str) -> CreatedApiKey:
        """Same id, new secret; the old secret stops verifying at once."""
        return CreatedApiKey.from_native(self._client._call("api_keys.regenerate", {"id": id}))

    def rotate(self, id: str, *, grace_period_seconds: Optional[int] = None) -> RotatedApiKey:
        """A new key (new id, same settings); the old one verifies until the grace period ends."""
        args = {"id": id, "grace_period_seconds": grace_period_seconds}
        return RotatedApiKey.from_native(self._client._call("api_keys.rotate", args))

    def import_keys(self, keys: Sequence[ImportedApiKeyArg]) -> List[ApiKey]:
        """Import existing keys (from your own key table) by the SHA-256 of
        their full text, so their holders keep using them: they then verify,
        list (``source="import"``), rotate and revoke like keys issued here.

        1-100 keys per call, all imported or none; returns them in request
        order. A hash already stored is a :class:`ConflictError`; an invalid
        item a :class:`BadRequestError` naming it (``keys[0].key_hash: …``).
        Needs ``keys:write``. Never send the plaintext: ``key_hash`` is
        :func:`keyward.key_hash` of it."""
        body = {"keys": _import_items(keys)}
        result = self._client._call("api_keys.import", {"body": body})
        return [ApiKey.from_dict(d) for d in result["imported"]]


class Keys:
    """``/v1/keys/verify``: the hot path."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def verify(
        self,
        *,
        key: str,
        ip: Optional[str] = None,
        required_scopes: Optional[Sequence[str]] = None,
        cost: Optional[int] = None,
    ) -> VerifyResult:
        """Verify a key presented to your service. Never raises for an invalid
        key: check ``result.valid`` and ``result.code``."""
        body = _body(key=key, ip=ip, required_scopes=required_scopes, cost=cost)
        return VerifyResult.from_dict(self._client._call("keys.verify", {"body": body}))


class OrganizationApiKeys:
    """``/v1/organizations/{org}/api-keys``: the organization-level key family."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def create(
        self,
        org: str,
        *,
        name: str,
        scopes: Optional[Sequence[str]] = None,
        project_id: Optional[str] = None,
        expires_at: Optional[Timestamp] = None,
        allowed_ips: Optional[Sequence[str]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        rate_limit: Optional[RateLimitArg] = None,
        usage_limit: Optional[UsageLimitArg] = None,
        environment: Optional[str] = None,
        device_name: Optional[str] = None,
    ) -> CreatedApiKey:
        body = _body(
            name=name, scopes=scopes, project_id=project_id, expires_at=expires_at,
            allowed_ips=allowed_ips, meta=meta, rate_limit=rate_limit, usage_limit=usage_limit,
            environment=environment, device_name=device_name,
        )
        return CreatedApiKey.from_native(
            self._client._call("organization_api_keys.create", {"org": org, "body": body})
        )

    def list(
        self,
        org: str,
        *,
        project_id: Optional[str] = None,
        environment: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> PageIterator[ApiKey]:
        def fetch(cursor: Optional[str]) -> Page[ApiKey]:
            page = self._client._call(
                "organization_api_keys.list_page",
                {"org": org, "project_id": project_id, "environment": environment,
                 "limit": limit, "cursor": cursor},
            )
            return [ApiKey.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def revoke(self, org: str, id: str) -> None:
        self._client._call("organization_api_keys.revoke", {"org": org, "id": id})


class Projects:
    """``/v1/projects``."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def create(
        self,
        *,
        name: str,
        key_prefix: Optional[str] = None,
        default_scopes: Optional[Sequence[str]] = None,
        default_rate_limit: Optional[RateLimitArg] = None,
        default_ttl_seconds: Optional[int] = None,
        default_grace_period_seconds: Optional[int] = None,
        expiry_warning_days: Optional[int] = None,
        leak_policy: Optional[LeakPolicy] = None,
    ) -> Project:
        """Create a project. ``expiry_warning_days`` (0-365, default 7; 0 turns
        the ``api_key.expiring`` / ``api_key.rotation_due`` warnings off) and
        ``leak_policy`` (``"revoke"``, the default, or ``"flag"``) are its
        key-hygiene policies."""
        body = _body(
            name=name, key_prefix=key_prefix, default_scopes=default_scopes,
            default_rate_limit=default_rate_limit, default_ttl_seconds=default_ttl_seconds,
            default_grace_period_seconds=default_grace_period_seconds,
            expiry_warning_days=expiry_warning_days, leak_policy=leak_policy,
        )
        return Project.from_dict(self._client._call("projects.create", {"body": body}))

    def list(self, *, limit: Optional[int] = None) -> PageIterator[Project]:
        def fetch(cursor: Optional[str]) -> Page[Project]:
            page = self._client._call(
                "projects.list_page", {"limit": limit, "starting_after": cursor}
            )
            return [Project.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def get(self, id: str) -> Project:
        return Project.from_dict(self._client._call("projects.get", {"id": id}))

    def update(
        self,
        id: str,
        *,
        name: Optional[str] = None,
        key_prefix: Optional[str] = None,
        default_scopes: Optional[Sequence[str]] = None,
        default_rate_limit: Optional[RateLimitArg] = None,
        default_ttl_seconds: Optional[int] = None,
        default_grace_period_seconds: Optional[int] = None,
        expiry_warning_days: Optional[int] = None,
        leak_policy: Optional[LeakPolicy] = None,
    ) -> Project:
        """Partial update: arguments left out (None) are left alone."""
        body = _body(
            name=name, key_prefix=key_prefix, default_scopes=default_scopes,
            default_rate_limit=default_rate_limit, default_ttl_seconds=default_ttl_seconds,
            default_grace_period_seconds=default_grace_period_seconds,
            expiry_warning_days=expiry_warning_days, leak_policy=leak_policy,
        )
        return Project.from_dict(self._client._call("projects.update", {"id": id, "body": body}))

    def delete(self, id: str) -> None:
        """Revoke every key of the project, then delete it (admins and owners,
        or an ``orgs:admin`` key)."""
        self._client._call("projects.delete", {"id": id})


class Organizations:
    """``/v1/organizations``: tenants. With a session token, the ones the user
    is a member of (each with the user's ``role``); with an API key, its own."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def create(self, *, name: str, key_prefix: Optional[str] = None) -> Organization:
        """Create an organization; the calling user becomes its owner (the
        ``live`` and ``test`` environments are created with it). Needs a
        session token: an API key gets :class:`PermissionDeniedError`."""
        body = _body(name=name, key_prefix=key_prefix)
        return Organization.from_dict(self._client._call("organizations.create", {"body": body}))

    def list(self, *, limit: Optional[int] = None) -> PageIterator[Organization]:
        def fetch(cursor: Optional[str]) -> Page[Organization]:
            page = self._client._call(
                "organizations.list_page", {"limit": limit, "starting_after": cursor}
            )
            return [Organization.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def get(self, org: str) -> Organization:
        return Organization.from_dict(self._client._call("organizations.get", {"org": org}))

    def update(
        self, org: str, *, name: Optional[str] = None, key_prefix: Optional[str] = None
    ) -> Organization:
        """Rename, or change the default key prefix (owners); None leaves a field alone."""
        body = _body(name=name, key_prefix=key_prefix)
        return Organization.from_dict(
            self._client._call("organizations.update", {"org": org, "body": body})
        )

    def delete(self, org: str) -> None:
        """Revoke every key of the organization, then delete it (owners)."""
        self._client._call("organizations.delete", {"org": org})


class Members:
    """``/v1/organizations/{org}/members``: who can act in an organization, and as what."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def list(self, org: str, *, limit: Optional[int] = None) -> PageIterator[Member]:
        def fetch(cursor: Optional[str]) -> Page[Member]:
            page = self._client._call(
                "members.list_page", {"org": org, "limit": limit, "starting_after": cursor}
            )
            return [Member.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def add(self, org: str, *, user_id: str, role: Role) -> Member:
        """Add a user (their session token's ``sub``) with a role (owners).
        An existing member is a :class:`ConflictError`."""
        body = _body(user_id=user_id, role=role)
        return Member.from_dict(self._client._call("members.add", {"org": org, "body": body}))

    def update(self, org: str, user_id: str, *, role: Role) -> Member:
        """Change a member's role. Demoting the last owner is a :class:`ConflictError`."""
        args = {"org": org, "user_id": user_id, "body": _body(role=role)}
        return Member.from_dict(self._client._call("members.update", args))

    def remove(self, org: str, user_id: str) -> None:
        """Remove a member. Removing the last owner is a :class:`ConflictError`."""
        self._client._call("members.remove", {"org": org, "user_id": user_id})


class Environments:
    """``/v1/projects/{id}/environments``: the environments of the project's
    organization (shared by all its projects)."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def list(self, project_id: str, *, limit: Optional[int] = None) -> PageIterator[Environment]:
        def fetch(cursor: Optional[str]) -> Page[Environment]:
            page = self._client._call(
                "environments.list_page",
                {"project_id": project_id, "limit": limit, "starting_after": cursor},
            )
            return [Environment.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def create(self, project_id: str, *, name: str) -> Environment:
        """Create an environment (admins and owners). A taken name is a :class:`ConflictError`."""
        args = {"project_id": project_id, "body": _body(name=name)}
        return Environment.from_dict(self._client._call("environments.create", args))


class AuditEvents:
    """``/v1/audit-events``: the organization's audit log, newest first (admins and owners)."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def list(
        self,
        *,
        action: Optional[str] = None,
        actor_id: Optional[str] = None,
        target_id: Optional[str] = None,
        since: Optional[Timestamp] = None,
        until: Optional[Timestamp] = None,
        limit: Optional[int] = None,
    ) -> PageIterator[AuditEvent]:
        """Events matching every filter given: ``action`` (e.g. ``member.added``),
        ``actor_id`` (a user id or key id), ``target_id``, ``since`` (inclusive)
        and ``until`` (exclusive) as datetimes (naive ones are UTC) or RFC 3339."""
        filters = _audit_filters(action, actor_id, target_id, since, until)

        def fetch(cursor: Optional[str]) -> Page[AuditEvent]:
            page = self._client._call(
                "audit_events.list_page", {**filters, "limit": limit, "starting_after": cursor}
            )
            return [AuditEvent.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)


class WebhookEndpoints:
    """``/v1/webhook-endpoints``: where the organization's key events are
    delivered (owners and admins, or an ``orgs:admin`` key)."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def create(
        self,
        *,
        url: str,
        description: Optional[str] = None,
        event_types: Optional[Sequence[WebhookEventType]] = None,
        is_active: Optional[bool] = None,
    ) -> CreatedWebhookEndpoint:
        """Create an endpoint; the result's ``secret`` (``whsec_…``, a
        :class:`SecretKey`) is shown only now. ``event_types`` left out (or
        empty) subscribes to every event. The URL must be absolute http(s);
        private, loopback and link-local targets are a :class:`BadRequestError`
        unless the server allows them."""
        body = _body(url=url, description=description, event_types=event_types, is_active=is_active)
        return CreatedWebhookEndpoint.from_native(
            self._client._call("webhook_endpoints.create", {"body": body})
        )

    def list(self, *, limit: Optional[int] = None) -> PageIterator[WebhookEndpoint]:
        """Every endpoint of the organization, newest first (without secrets)."""

        def fetch(cursor: Optional[str]) -> Page[WebhookEndpoint]:
            page = self._client._call(
                "webhook_endpoints.list_page", {"limit": limit, "starting_after": cursor}
            )
            return [WebhookEndpoint.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def get(self, id: str) -> WebhookEndpoint:
        return WebhookEndpoint.from_dict(self._client._call("webhook_endpoints.get", {"id": id}))

    def update(
        self,
        id: str,
        *,
        url: Optional[str] = None,
        description: Optional[str] = None,
        event_types: Optional[Sequence[WebhookEventType]] = None,
        is_active: Optional[bool] = None,
    ) -> WebhookEndpoint:
        """Partial update: ``event_types=[]`` subscribes to every event again,
        ``is_active=False`` pauses deliveries; None leaves a field alone."""
        body = _body(url=url, description=description, event_types=event_types, is_active=is_active)
        return WebhookEndpoint.from_dict(
            self._client._call("webhook_endpoints.update", {"id": id, "body": body})
        )

    def delete(self, id: str) -> None:
        """Delete the endpoint: no new deliveries go to it."""
        self._client._call("webhook_endpoints.delete", {"id": id})

    def rotate_secret(self, id: str) -> CreatedWebhookEndpoint:
        """A new signing secret, shown only now; the old one stops signing at
        once (deliveries from now on, redeliveries included, use the new one)."""
        return CreatedWebhookEndpoint.from_native(
            self._client._call("webhook_endpoints.rotate_secret", {"id": id})
        )


class WebhookDeliveries:
    """``/v1/webhook-deliveries``: each event's delivery to each destination,
    with its attempts and outcome (owners and admins, or an ``orgs:admin`` key)."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def list(
        self,
        *,
        endpoint_id: Optional[str] = None,
        api_key_id: Optional[str] = None,
        event_type: Optional[WebhookEventType] = None,
        status: Optional[WebhookDeliveryStatus] = None,
        limit: Optional[int] = None,
    ) -> PageIterator[WebhookDelivery]:
        """Deliveries matching every filter given, newest first: to one
        endpoint, to one key's own ``rotation_webhook_url`` (``api_key_id``),
        of one ``event_type``, or in one ``status`` (``"failed"``: dead-lettered)."""
        filters: Dict[str, Any] = {
            "endpoint_id": endpoint_id, "api_key_id": api_key_id,
            "event_type": event_type, "status": status,
        }

        def fetch(cursor: Optional[str]) -> Page[WebhookDelivery]:
            page = self._client._call(
                "webhook_deliveries.list_page", {**filters, "limit": limit, "starting_after": cursor}
            )
            return [WebhookDelivery.from_dict(d) for d in page["items"]], page.get("next_cursor")

        return PageIterator(fetch)

    def get(self, id: str) -> WebhookDelivery:
        return WebhookDelivery.from_dict(self._client._call("webhook_deliveries.get", {"id": id}))

    def redeliver(self, id: str) -> WebhookDelivery:
        """Queue the delivery again now (returned as queued, ``status="pending"``):
        same ``webhook-id``, a fresh retry schedule, the destination's current secret."""
        return WebhookDelivery.from_dict(
            self._client._call("webhook_deliveries.redeliver", {"id": id})
        )


class WebhookSigningSecret:
    """``/v1/webhook-signing-secret``: the organization's secret for deliveries
    to keys' own ``rotation_webhook_url`` (endpoints have their own secrets)."""

    def __init__(self, client: Keyward) -> None:
        self._client = client

    def rotate(self) -> SecretKey:
        """Replace the secret and return the new one (``whsec_…``), shown only
        now; the previous one stops signing at once. Call it once before
        relying on ``rotation_webhook_url`` deliveries, to learn the secret."""
        return SecretKey(str(self._client._call("webhook_signing_secret.rotate", {})["secret"]))


class Keyward(_Config):
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

    api_keys: ApiKeys
    keys: Keys
    organization_api_keys: OrganizationApiKeys
    projects: Projects
    organizations: Organizations
    members: Members
    environments: Environments
    audit_events: AuditEvents
    webhook_endpoints: WebhookEndpoints
    webhook_deliveries: WebhookDeliveries
    webhook_signing_secret: WebhookSigningSecret

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
        self._resources()

    def _resources(self) -> None:
        self.api_keys = ApiKeys(self)
        self.keys = Keys(self)
        self.organization_api_keys = OrganizationApiKeys(self)
        self.projects = Projects(self)
        self.organizations = Organizations(self)
        self.members = Members(self)
        self.environments = Environments(self)
        self.audit_events = AuditEvents(self)
        self.webhook_endpoints = WebhookEndpoints(self)
        self.webhook_deliveries = WebhookDeliveries(self)
        self.webhook_signing_secret = WebhookSigningSecret(self)

    def with_options(
        self, *, timeout: Optional[float] = None, max_retries: Optional[int] = None
    ) -> Keyward:
        """A client sharing this one's connections, with other per-call options:
        ``client.with_options(timeout=2, max_retries=0).keys.verify(key=...)``."""
        derived = Keyward.__new__(Keyward)
        derived._derive(self, timeout, max_retries)
        derived._resources()
        return derived

    def _call(self, op: str, args: Dict[str, Any]) -> Any:
        self._check_open()
        return self._native.call(op, args, timeout=self._timeout, max_retries=self._max_retries)

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

