"""Every operation through AsyncKeyward (asyncio) against a real server."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Awaitable, TypeVar

import keyward
import pytest
from keyward import AsyncKeyward

from .conftest import Proxy, Server

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout=60)

    return asyncio.run(bounded())


def test_async_api_keys_and_verify(server: Server) -> None:
    async def main() -> None:
        async with AsyncKeyward(server.admin_key, base_url=server.base_url) as kw:
            project = await kw.projects.create(name=f"ap-{uuid.uuid4().hex[:6]}")
            created = await kw.api_keys.create(
                name="async", project_id=project.id, scopes=["s:r"], meta={"a": 1}
            )
            assert isinstance(created, keyward.CreatedApiKey)
            assert isinstance(created.key, keyward.SecretKey)
            secret = created.key.get_secret_value()
            got = await kw.api_keys.get(created.id)
            assert got.id == created.id and got.project_id == project.id
            updated = await kw.api_keys.update(created.id, name="async2", meta={"b": 2})
            assert updated.name == "async2" and updated.meta == {"b": 2}
            result = await kw.keys.verify(key=secret, required_scopes=["s:r"], cost=1)
            assert result.valid and result.key_id == created.id
            assert (await kw.keys.verify(key=secret, required_scopes=["x"])).code == "INSUFFICIENT_SCOPES"
            regenerated = await kw.api_keys.regenerate(created.id)
            assert regenerated.id == created.id and regenerated.key != created.key
            rotated = await kw.api_keys.rotate(created.id, grace_period_seconds=30)
            assert rotated.old_key_id == created.id and rotated.grace_expires_at is not None
            assert (await kw.keys.verify(key=rotated.key.get_secret_value())).valid
            await kw.api_keys.revoke(rotated.new_key_id)
            assert (await kw.keys.verify(key=rotated.key.get_secret_value())).code == "REVOKED"
            with pytest.raises(keyward.NotFoundError):
                await kw.api_keys.get(str(uuid.uuid4()))

    run(main())


def test_async_list_pages(server: Server, proxy: Proxy) -> None:
    async def main() -> None:
        async with AsyncKeyward(server.admin_key, base_url=proxy.base_url) as kw:
            project = await kw.projects.create(name=f"apl-{uuid.uuid4().hex[:6]}")
            made = [(await kw.api_keys.create(name=f"k{i}", project_id=project.id)).id for i in range(5)]
            listed = [k.id async for k in kw.api_keys.list(project_id=project.id, limit=2)]
            assert listed == list(reversed(made))
            assert proxy.count("GET", "/v1/api-keys?") == 3

    run(main())


def test_async_organization_keys_and_projects(server: Server) -> None:
    async def main() -> None:
        async with AsyncKeyward(server.admin_key, base_url=server.base_url) as kw:
            org = server.org_id
            project = await kw.projects.create(name="async-proj", default_scopes=["d:r"])
            assert (await kw.projects.get(project.id)).name == "async-proj"
            project2 = await kw.projects.update(project.id, name="async-proj2")
            assert project2.name == "async-proj2"
            assert project.id in {p.id async for p in kw.projects.list(limit=1)}
            created = await kw.organization_api_keys.create(org, name="ok", scopes=["x"], project_id=project.id)
            await kw.organization_api_keys.create(org, name="ok2", scopes=["x"], project_id=project.id)
            names = [k.name async for k in kw.organization_api_keys.list(org, project_id=project.id, limit=1)]
            assert sorted(names) == ["ok", "ok2"]
            assert (await kw.organization_api_keys.revoke(org, created.api_key.id)).revoked
            assert (await kw.keys.verify(key=created.plaintext_api_key.get_secret_value())).code == "REVOKED"

    run(main())


def test_async_calls_run_concurrently(server: Server, proxy: Proxy) -> None:
    """20 verifies, each held 0.3 s by the proxy, finish together, not in series."""
    proxy.delay = 0.3

    async def main() -> float:
        async with AsyncKeyward(server.admin_key, base_url=proxy.base_url) as kw:
            start = time.monotonic()
            results = await asyncio.gather(*(kw.keys.verify(key=server.admin_key) for _ in range(20)))
            assert all(r.valid for r in results)
            return time.monotonic() - start

    elapsed = run(main())
    assert elapsed < 3.0, f"20 concurrent calls took {elapsed:.2f}s (serial would be 6 s)"


def test_async_errors_and_options(server: Server, proxy: Proxy) -> None:
    async def main() -> None:
        kw = AsyncKeyward(server.admin_key, base_url=proxy.base_url, max_retries=0)
        proxy.always = 500
        with pytest.raises(keyward.InternalServerError) as info:
            await kw.keys.verify(key=server.admin_key)
        assert info.value.status_code == 500 and info.value.request_id == "proxy-req"
        proxy.always = None
        proxy.delay = 1.0
        with pytest.raises(keyward.APITimeoutError):
            await kw.with_options(timeout=0.2).keys.verify(key=server.admin_key)
        proxy.delay = 0.0
        with pytest.raises(ValueError):
            await kw.api_keys.get("nope")
        await kw.close()

    run(main())


def test_async_surface_matches_sync() -> None:
    def public(obj: Any) -> set[str]:
        return {n for n in dir(obj) if not n.startswith("_")}

    pairs = [
        (keyward.Keyward, AsyncKeyward),
    ]
    from keyward import _resources_async, _resources_sync

    for name in _resources_sync.__all__:
        pairs.append((getattr(_resources_sync, name), getattr(_resources_async, f"Async{name}")))
    assert len(pairs) == 1 + len(_resources_async.__all__)
    for sync_cls, async_cls in pairs:
        assert public(sync_cls) == public(async_cls), (sync_cls, async_cls)
