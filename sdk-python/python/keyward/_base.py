"""Configuration, argument encoding and pagination shared by both clients."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import datetime, timedelta, timezone
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
    get_args,
)

from . import _native
from ._exceptions import KeywardError
from ._secret import SecretKey

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
    if isinstance(value, SecretKey):
        return value.get_secret_value()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_encode(v) for v in value]
    return value


# Encoders of the generated methods' arguments: (value, argument name) → JSON.
# None passes through (``_compact`` then leaves it out); a value of the wrong
# kind is a TypeError naming the argument, before anything is sent.


class _Unset:
    """The default of an argument that may be sent as JSON null: left out, it is
    not sent at all; ``None`` sends null (which clears the field, where the
    spec says so)."""

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


def _compact(fields: Dict[str, Any], nullable: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """``fields`` without the ones not given: UNSET, and None unless ``nullable``
    names the field (then None is sent as JSON null)."""
    return {k: v for k, v in fields.items() if v is not UNSET and (v is not None or k in nullable)}


def _plain(value: Any, name: str) -> Any:
    """Any JSON-shaped value (nested datetimes and dataclasses encoded)."""
    return _encode(value)


def _time(value: Any, name: str) -> Any:
    """A timestamp: an aware ``datetime`` (naive ones are UTC) or an RFC 3339 string."""
    if value is None or value is UNSET:
        return value
    if isinstance(value, str):
        if _RFC3339.match(value) is None:
            raise ValueError(f"{name}: not an RFC 3339 timestamp: {value!r}")
        return value
    if isinstance(value, datetime):
        return _encode(value)
    raise TypeError(f"{name} must be a datetime or an RFC 3339 string, not {type(value).__name__}")


def _choice(value: Any, name: str, choices: Any) -> Any:
    """One of the values of the ``Literal`` alias ``choices``."""
    allowed = get_args(choices)
    if value is None or value is UNSET or value in allowed:
        return value
    raise ValueError(f"{name}: unknown value {value!r}, expected one of {', '.join(map(repr, allowed))}")


def _obj(value: Any, name: str) -> Any:
    """An object: one of the dataclasses in ``keyward`` or a mapping with its
    fields (fields left at None are not sent)."""
    if value is None or value is UNSET:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif isinstance(value, Mapping):
        fields = dict(value)
    else:
        raise TypeError(f"{name} must be a mapping or a keyward model, not {type(value).__name__}")
    return {str(k): _encode(v) for k, v in fields.items() if v is not None}


def _seq(value: Any, name: str, item: Callable[[Any, str], Any]) -> Any:
    """A list, each item through ``item``."""
    if value is None or value is UNSET:
        return value
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list, not {type(value).__name__}")
    return [item(v, f"{name}[{i}]") for i, v in enumerate(value)]


# Decoders of the generated models' ``from_dict``: response JSON → Python.

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


def _any(value: Any) -> Any:
    """As it is (enum values: one this SDK does not know yet stays a plain str)."""
    return value


def _str(value: Any) -> str:
    return str(value)


def _int(value: Any) -> int:
    return int(value)


def _float(value: Any) -> float:
    return float(value)


def _bool(value: Any) -> bool:
    return bool(value)


def _object(value: Any) -> Dict[str, Any]:
    return dict(value)


def _secret(value: Any) -> SecretKey:
    return SecretKey(str(value))


def _opt(value: Any, decode: Callable[[Any], T]) -> Optional[T]:
    return None if value is None else decode(value)


def _list(value: Any, decode: Callable[[Any], T]) -> List[T]:
    return [decode(v) for v in value]


def _opt_list(value: Any, decode: Callable[[Any], T]) -> Optional[List[T]]:
    return None if value is None else _list(value, decode)


def _map(value: Any, decode: Callable[[Any], T]) -> Dict[str, T]:
    return {str(k): decode(v) for k, v in value.items()}


def _opt_map(value: Any, decode: Callable[[Any], T]) -> Optional[Dict[str, T]]:
    return None if value is None else _map(value, decode)


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

    def _call_options(
        self,
        timeout: Optional[float],
        max_retries: Optional[int],
        idempotency_key: Optional[str],
        extra_headers: Optional[Mapping[str, str]],
    ) -> Dict[str, Any]:
        """The native call's keyword arguments: per-call options win over this
        client's (``with_options``)."""
        self._check_open()
        _check_options(timeout, max_retries)
        return {
            "timeout": timeout if timeout is not None else self._timeout,
            "max_retries": max_retries if max_retries is not None else self._max_retries,
            "idempotency_key": idempotency_key,
            "extra_headers": list(extra_headers.items()) if extra_headers else None,
        }

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
