"""The generated surface (docs/sdk-contract.md#python-the-generated-surface): every operation of the
spec is a method of both clients, and the native layer knows it by that name."""

from __future__ import annotations

import inspect
from typing import Any

import keyward
import pytest
from keyward import AsyncKeyward, Keyward, _native


def _method(client: Any, name: str) -> Any:
    resource, method = name.split(".")
    return getattr(getattr(client, resource), method)


def test_every_operation_is_a_method_of_both_clients() -> None:
    sync = Keyward("kw_test_offline", base_url="http://127.0.0.1:9")
    asyn = AsyncKeyward("kw_test_offline", base_url="http://127.0.0.1:9")
    assert len(keyward.OPERATIONS) == len(set(keyward.OPERATIONS)) == len(keyward.METHODS)
    for op in keyward.OPERATIONS:
        name = keyward.METHODS[op]
        assert callable(_method(sync, name)), name
        assert inspect.iscoroutinefunction(_method(asyn, name)), name
        assert list(inspect.signature(_method(sync, name)).parameters) == list(
            inspect.signature(_method(asyn, name)).parameters
        ), name
        if op.endswith(".list_page"):  # the iterator over every page, beside the one page
            every = name[: -len("_page")]
            assert callable(_method(sync, every)) and not inspect.iscoroutinefunction(_method(asyn, every))
    assert keyward.METHODS["api_keys.import"] == "api_keys.import_keys"  # `import` is a keyword
    assert keyward.METHODS["api_keys.get_usage"] == "api_keys.get_usage"


def test_the_native_layer_knows_every_operation() -> None:
    native = _native.NativeClient("kw_test_offline", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(ValueError, match="unknown operation"):
        native.call("api_keys.nope", {})
    for op in keyward.OPERATIONS:
        # An argument no operation takes: refused before anything is sent,
        # as an argument error (never as an unknown operation).
        with pytest.raises(ValueError) as info:
            native.call(op, {"no_such_argument": 1}, max_retries=0)
        assert "unknown operation" not in str(info.value), op


def test_arguments_are_checked_before_sending() -> None:
    kw = Keyward("kw_test_offline", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(TypeError, match="scopes"):
        kw.api_keys.create(name="x", scopes="not-a-list")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="rate_limit"):
        kw.api_keys.create(name="x", rate_limit=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="granularity"):
        kw.api_keys.get_usage("0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", granularity="week")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="from"):
        kw.api_keys.get_usage("0193a3c1-7d4e-7b7a-9f1e-2b8c4d5e6f70", from_="yesterday")
