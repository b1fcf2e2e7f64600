"""Configuration, argument encoding and pagination shared by both clients."""

from __future__ import annotations

import dataclasses
import os
from datetime import datetime, timezone
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Generic,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
)

from . import _native
from ._exceptions import KeywardError

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"

#: One page as the Rust facade's ``list_page`` returns it: items and the next cursor.
Page = Tuple[List[T], Optional[str]]


def key_hash(key: str) -> str:
    """The ``key_hash`` of a key to import (``api_keys.import_keys``): the
    SHA-256 of the key's full text as 64 lower-case hex characters, the same
    as ``hashlib.sha256(key.encode()).hexdigest()``. Computed locally (in the
    Rust core, ``keyward::key_hash``); the key itself is never sent."""
    if not isinstance(key, str):
        raise TypeError("key_hash takes the key as a str")
    return _native.key_hash(key)


def _encode(value: Any) -> Any:
    """Python argument → JSON value (datetimes as RFC 3339, dataclasses as dicts)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_encode(v) for v in value]
    return value


def _body(**fields: Any) -> Dict[str, Any]:
    """A request body from keyword arguments, leaving out the ones not given (None)."""
    return {k: _encode(v) for k, v in fields.items() if v is not None}


def _import_items(keys: Any) -> List[Dict[str, Any]]:
    """The ``keys`` of an import request: :class:`ImportedApiKey` dataclasses
    or mappings with the same fields, fields left at None not sent."""
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable):
        raise TypeError("keys must be a list of ImportedApiKey (or dicts with the same fields)")
    items: List[Dict[str, Any]] = []
    for key in keys:
        if dataclasses.is_dataclass(key) and not isinstance(key, type):
            fields = {f.name: getattr(key, f.name) for f in dataclasses.fields(key)}
        elif isinstance(key, Mapping):
            fields = dict(key)
        else:
            raise TypeError(
                f"cannot import a {type(key).__name__}: pass ImportedApiKey or a dict"
            )
        items.append(_body(**fields))
    return items


def _audit_filters(
    action: Optional[str],
    actor_id: Optional[str],
    target_id: Optional[str],
    since: Any,
    until: Any,
) -> Dict[str, Any]:
    """The filter arguments of ``audit_events.list_page`` (times as RFC 3339)."""
    return {
        "action": action,
        "actor_id": actor_id,
        "target_id": target_id,
        "since": _encode(since),
        "until": _encode(until),
    }


def _check_options(timeout: Optional[float], max_retries: Optional[int]) -> None:
    if timeout is not None and not timeout > 0:
        raise ValueError("timeout must be a positive number of seconds")
    if max_retries is not None and (not isinstance(max_retries, int) or max_retries < 0):
        raise ValueError("max_retries must be a non-negative integer")


class _Config:
    """What both clients hold: the native client plus per-call defaults."""

    _native: _native.NativeClient
    _base_url: str
    _timeout: Optional[float]
    _max_retries: Optional[int]
    _closed: bool

    def _configure(
        self,
        api_key: Optional[str],
        base_url: Optional[str],
        timeout: Optional[float],
        max_retries: Optional[int],
        connect_timeout: Optional[float],
        organization_id: Optional[str] = None,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("KEYWARD_API_KEY") or None
        if not api_key:
            raise KeywardError(
                "No API key: pass api_key=... to the client or set the KEYWARD_API_KEY "
                "environment variable."
            )
        if base_url is None:
            base_url = os.environ.get("KEYWARD_BASE_URL") or DEFAULT_BASE_URL
        if organization_id is None:
            organization_id = os.environ.get("KEYWARD_ORGANIZATION_ID") or None
        _check_options(timeout, max_retries)
        if connect_timeout is not None and not connect_timeout > 0:
            raise ValueError("connect_timeout must be a positive number of seconds")
        self._base_url = base_url
        # The client-wide timeout and retries are the native client's defaults;
        # per-call overrides (with_options) travel with each call.
        self._native = _native.NativeClient(
            api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            connect_timeout=connect_timeout,
            organization_id=organization_id,
        )
        self._timeout = None
        self._max_retries = None
        self._closed = False

    def _derive(self, other: _Config, timeout: Optional[float], max_retries: Optional[int]) -> None:
        _check_options(timeout, max_retries)
        self._native = other._native
        self._base_url = other._base_url
        self._timeout = timeout if timeout is not None else other._timeout
        self._max_retries = max_retries if max_retries is not None else other._max_retries
        self._closed = False

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def organization_id(self) -> Optional[str]:
        """The organization sent as ``X-Organization-Id`` (None: not sent)."""
        return self._native.organization_id

    def _check_open(self) -> None:
        if self._closed:
            raise KeywardError("this client is closed")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"


class PageIterator(Generic[T], Iterator[T]):
    """Iterates over every item of a list, fetching pages (through the Rust
    facade's ``list_page``) as it goes. Pages are fetched lazily."""

    def __init__(self, fetch: Callable[[Optional[str]], Page[T]]) -> None:
        self._fetch = fetch
        self._buffer: List[T] = []
        self._cursor: Optional[str] = None
        self._seen: set[str] = set()
        self._done = False

    def __iter__(self) -> PageIterator[T]:
        return self

    def __next__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopIteration
            items, cursor = self._fetch(self._cursor)
            self._buffer = list(items)
            # Stop on the last page, and never loop on a cursor seen before.
            if cursor is None or cursor in self._seen or not items:
                self._done = True
            else:
                self._seen.add(cursor)
                self._cursor = cursor
        return self._buffer.pop(0)


class AsyncPageIterator(Generic[T], AsyncIterator[T]):
    """``async for`` over every item of a list, page by page."""

    def __init__(self, fetch: Callable[[Optional[str]], Awaitable[Page[T]]]) -> None:
        self._fetch = fetch
        self._buffer: List[T] = []
        self._cursor: Optional[str] = None
        self._seen: set[str] = set()
        self._done = False

    def __aiter__(self) -> AsyncPageIterator[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopAsyncIteration
            items, cursor = await self._fetch(self._cursor)
            self._buffer = list(items)
            if cursor is None or cursor in self._seen or not items:
                self._done = True
            else:
                self._seen.add(cursor)
                self._cursor = cursor
        return self._buffer.pop(0)
