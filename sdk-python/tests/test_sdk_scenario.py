"""The scenario every SDK runs (tests/fixtures/sdk-scenario.json; its ``description`` holds
the rules) through the public generated surface of ``Keyward`` and of ``AsyncKeyward``,
against the suite's server. Each step becomes one method call: the method ``METHODS`` names,
path parameters positionally in path order, body fields and query parameters as keyword
arguments (``SIGNATURES`` says which is which). Results come back to JSON through the models'
``to_dict()``, a ``SecretKey`` as its ``get_secret_value()``. Each client must call every entry
of ``OPERATIONS``: an operation added to the spec fails here until the scenario calls it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import keyword
import re
import time
import uuid
from datetime import datetime
from typing import Any, Dict, Generator, List, Optional, Set, Tuple

import keyward
from keyward import AsyncKeyward, Keyward, SecretKey
from keyward._operations import METHODS, OPERATIONS, SIGNATURES

from .conftest import ROOT, Server
from .test_tenancy import session_token

SCENARIO = json.loads((ROOT / "tests" / "fixtures" / "sdk-scenario.json").read_text())
#: A step with ``until`` is repeated at most this often, 50 ms apart.
UNTIL_POLLS = 200
UNTIL_INTERVAL = 0.05
STEP_KEYS = {"as", "op", "args", "save", "expect", "until"}

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
#: A JSON pointer that points nowhere.
_ABSENT = object()


def _resolve(reference: str, saved: Dict[str, Any]) -> Any:
    name, *segments = reference.split(".")
    assert name in saved, f"${{{reference}}}: nothing saved as {name!r}"
    value = saved[name]
    for segment in segments:
        if isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        elif isinstance(value, dict) and segment in value:
            value = value[segment]
        else:
            raise AssertionError(f"${{{reference}}}: no {segment!r} in {value!r}")
    return value


def _substitute(value: Any, saved: Dict[str, Any]) -> Any:
    """``value`` with every ``${…}`` reference replaced (the fixture's rule)."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _resolve(whole.group(1), saved)

        def text(match: re.Match[str]) -> str:
            inner = _resolve(match.group(1), saved)
            assert isinstance(inner, (str, int, float)) and not isinstance(inner, bool), (value, inner)
            return str(inner)

        return _REFERENCE.sub(text, value)
    if isinstance(value, list):
        return [_substitute(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(inner, saved) for key, inner in value.items()}
    return value


def _pointer(document: Any, pointer: str) -> Any:
    """RFC 6901: the value at ``pointer``, or ``_ABSENT``."""
    if pointer == "":
        return document
    value = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        else:
            return _ABSENT
    return value


def _to_json(value: Any, pointer: str, secrets: Set[str]) -> Any:
    """A result (``to_dict()`` output) as dispatch's JSON; remembers where secrets were."""
    if isinstance(value, SecretKey):
        secrets.add(pointer)
        return value.get_secret_value()
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        assert isinstance(value, keyward._models._Model), value
        return _to_json(value.to_dict(), pointer, secrets)
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            # A field named like a Python keyword is read under the spec's name (`from_` → `from`).
            name = key[:-1] if key.endswith("_") and keyword.iskeyword(key[:-1]) else key
            out[name] = _to_json(inner, f"{pointer}/{name}", secrets)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(inner, f"{pointer}/{index}", secrets) for index, inner in enumerate(value)]
    return value


def _result_json(operation: str, result: Any, secrets: Set[str]) -> Any:
    if operation.endswith(".list_page"):
        items, next_cursor = result
        return {"items": _to_json(list(items), "/items", secrets), "next_cursor": next_cursor}
    return _to_json(result, "", secrets)


def _check(expected: Any, actual: Any, pointer: str, secrets: Set[str]) -> Optional[str]:
    """Why ``actual`` is not what ``expected`` says, or None."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$"):
        ((matcher, argument),) = expected.items()
        if matcher == "$length":
            ok = isinstance(actual, list) and len(actual) == argument
            return None if ok else f"expected an array of {argument} items, got {actual!r}"
        if matcher == "$prefix":
            ok = isinstance(actual, str) and actual.startswith(argument)
            return None if ok else f"expected a string starting with {argument!r}, got {actual!r}"
        if matcher == "$secret":
            if pointer not in secrets:
                return f"expected a SecretKey, got {actual!r}"
            return _check(argument, actual, pointer, secrets)
        return f"unknown matcher {matcher!r}"
    if expected is None and actual is _ABSENT:
        return None
    if actual is _ABSENT or expected != actual or type(expected) is not type(actual):
        return f"expected {expected!r}, got {'absent' if actual is _ABSENT else repr(actual)}"
    return None


def _identifier(name: str) -> str:
    return f"{name}_" if keyword.iskeyword(name) else name


@dataclasses.dataclass
class Call:
    """One method call the scenario asks its driver to make."""

    who: str
    operation: str
    positional: List[Any]
    keywords: Dict[str, Any]
    context: str

    def method(self, client: Any) -> Any:
        resource, method = METHODS[self.operation].split(".")
        return getattr(getattr(client, resource), method)


def _arguments(operation: str, args: Dict[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """Dispatch arguments → (path parameters in path order, keyword arguments)."""
    signature = SIGNATURES[operation]
    rest = dict(args)
    missing = [name for name in signature.path if name not in rest]
    assert not missing, f"{operation}: path parameters {missing} missing"
    positional = [rest.pop(name) for name in signature.path]
    keywords: Dict[str, Any] = {}
    body = rest.pop("body", None)
    if body is not None:
        assert signature.body, f"{operation} takes no body"
        keywords.update({_identifier(name): value for name, value in body.items()})
    for name, value in rest.items():
        assert name in signature.query, f"{operation} takes no argument {name!r}"
        keywords[_identifier(name)] = value
    return positional, keywords


def scenario(given: Dict[str, Any]) -> Generator[Call, Any, Set[str]]:
    """The steps, as calls for a driver to make (it sends each call's result back); returns
    the operations called."""
    saved = dict(given)
    called: Set[str] = set()
    for index, step in enumerate(SCENARIO["steps"]):
        assert set(step) <= STEP_KEYS, f"step {index}: {set(step) - STEP_KEYS}"
        operation = step["op"]
        context = f"step {index} ({operation})"
        assert step["as"] in ("admin", "alice"), context
        positional, keywords = _arguments(operation, _substitute(step.get("args", {}), saved))
        for poll in range(UNTIL_POLLS):
            raw = yield Call(step["as"], operation, positional, keywords, context)
            called.add(operation)
            secrets: Set[str] = set()
            result = _result_json(operation, raw, secrets)
            if "until" not in step or _pointer(result, step["until"]) is not _ABSENT:
                break
            assert poll + 1 < UNTIL_POLLS, f"{context}: no {step['until']} after {UNTIL_POLLS} polls: {result}"
            time.sleep(UNTIL_INTERVAL)
        if "save" in step:
            saved[step["save"]] = result
        for pointer, expected in step.get("expect", {}).items():
            problem = _check(_substitute(expected, saved), _pointer(result, pointer), pointer, secrets)
            assert problem is None, f"{context}: {pointer}: {problem}; result: {result}"
    return called


def _given(server: Server) -> Tuple[Dict[str, Any], str]:
    """The values given before step 1, and alice's session token (a user no other test has)."""
    run = uuid.uuid4().hex[:8]
    return {"admin_org": server.org_id, "run": run}, session_token(f"alice-{run}")


def _assert_covered(called: Set[str]) -> None:
    missed = [operation for operation in OPERATIONS if operation not in called]
    assert not missed, f"operations of the spec that tests/fixtures/sdk-scenario.json never calls: {missed}"


def test_the_scenario_through_keyward(server: Server) -> None:
    given, alice = _given(server)
    with Keyward(server.admin_key, base_url=server.base_url) as admin, Keyward(
        alice, base_url=server.base_url
    ) as as_alice:
        clients = {"admin": admin, "alice": as_alice}
        steps = scenario(given)
        reply: Any = None
        while True:
            try:
                call = steps.send(reply)
            except StopIteration as done:
                called: Set[str] = done.value
                break
            try:
                reply = call.method(clients[call.who])(*call.positional, **call.keywords)
            except Exception as error:
                raise AssertionError(f"{call.context}: {error!r}") from error
    _assert_covered(called)


def test_the_scenario_through_async_keyward(server: Server) -> None:
    given, alice = _given(server)

    async def main() -> Set[str]:
        async with AsyncKeyward(server.admin_key, base_url=server.base_url) as admin, AsyncKeyward(
            alice, base_url=server.base_url
        ) as as_alice:
            clients = {"admin": admin, "alice": as_alice}
            steps = scenario(given)
            reply: Any = None
            while True:
                try:
                    call = steps.send(reply)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
                method = call.method(clients[call.who])
                assert inspect.iscoroutinefunction(method), call.context
                try:
                    reply = await method(*call.positional, **call.keywords)
                except Exception as error:
                    raise AssertionError(f"{call.context}: {error!r}") from error

    _assert_covered(asyncio.run(asyncio.wait_for(main(), timeout=120)))
