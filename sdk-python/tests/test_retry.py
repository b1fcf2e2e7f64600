"""Retries go through the Rust core: a 503 once, then success."""

from __future__ import annotations

import asyncio

import keyward
from keyward import Keyward

from .conftest import Proxy, Server


def test_retry_after_503(server: Server, proxy: Proxy) -> None:
    kw = Keyward(server.admin_key, base_url=proxy.base_url)
    proxy.fail_with = [503]
    result = kw.keys.verify(key=server.admin_key)
    assert result.valid
    assert proxy.count("POST", "/v1/keys/verify") == 2


def test_retry_keeps_the_idempotency_key(server: Server, proxy: Proxy) -> None:
    kw = Keyward(server.admin_key, base_url=proxy.base_url)
    proxy.fail_with = [503, 502]
    created = kw.api_keys.create(name="retried")
    assert created.name == "retried"
    posts = [h for m, p, h in proxy.seen if m == "POST" and p == "/v1/api-keys"]
    assert len(posts) == 3
    keys = {h.get("idempotency-key") for h in posts}
    assert len(keys) == 1 and None not in keys
    # Exactly one key was created despite three attempts.
    assert [k.name for k in kw.api_keys.list()].count("retried") == 1


def test_no_retry_when_disabled(server: Server, proxy: Proxy) -> None:
    proxy.fail_with = [503]
    kw = Keyward(server.admin_key, base_url=proxy.base_url).with_options(max_retries=0)
    try:
        kw.keys.verify(key=server.admin_key)
        raise AssertionError("expected InternalServerError")
    except keyward.InternalServerError:
        pass
    assert proxy.count("POST", "/v1/keys/verify") == 1


def test_async_retry_after_503(server: Server, proxy: Proxy) -> None:
    async def main() -> bool:
        async with keyward.AsyncKeyward(server.admin_key, base_url=proxy.base_url) as kw:
            return (await kw.keys.verify(key=server.admin_key)).valid

    proxy.fail_with = [503]
    assert asyncio.run(asyncio.wait_for(main(), 30))
    assert proxy.count("POST", "/v1/keys/verify") == 2
