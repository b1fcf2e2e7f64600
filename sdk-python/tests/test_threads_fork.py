"""The GIL is released during I/O, and the binding survives os.fork()."""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import keyward
import pytest
from keyward import Keyward

from .conftest import Proxy, Server


def test_sync_calls_from_threads_run_in_parallel(server: Server, proxy: Proxy) -> None:
    """8 threads × 2 verifies, each held 0.4 s by the proxy: in parallel ≈ 0.8 s,
    with the GIL held through the I/O it would be 6.4 s."""
    kw = Keyward(server.admin_key, base_url=proxy.base_url)
    proxy.delay = 0.4

    def work(_: int) -> bool:
        return kw.keys.verify(key=server.admin_key).valid

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(16), timeout=60))
    elapsed = time.monotonic() - start
    assert all(results) and len(results) == 16
    assert elapsed < 4.0, f"16 calls on 8 threads took {elapsed:.2f}s"


def test_python_thread_runs_while_a_call_waits(server: Server, proxy: Proxy) -> None:
    """While one thread waits on Rust I/O, another thread keeps executing Python."""
    kw = Keyward(server.admin_key, base_url=proxy.base_url)
    proxy.delay = 0.5
    with ThreadPoolExecutor(max_workers=1) as pool:
        fut = pool.submit(lambda: kw.keys.verify(key=server.admin_key))
        ticks = 0
        deadline = time.monotonic() + 0.4
        while time.monotonic() < deadline:
            ticks += 1
        assert fut.result(timeout=30).valid
    assert ticks > 1000


def _wait_child(pid: int, timeout: float) -> int:
    """Exit status of `pid`, killing it (and failing) if it outlives `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child hung for {timeout}s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_and_parent_both_work(server: Server, client: Keyward) -> None:
    # The parent has used both front doors (runtime and connection pool exist).
    assert client.keys.verify(key=server.admin_key).valid
    akw = keyward.AsyncKeyward(server.admin_key, base_url=server.base_url)

    async def averify() -> bool:
        return (await akw.keys.verify(key=server.admin_key)).valid

    assert asyncio.run(asyncio.wait_for(averify(), 30))

    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # child: never return into pytest
            code = 1
            try:
                faulthandler.dump_traceback_later(30, exit=True)  # a hang prints where, then exits
                ok = client.keys.verify(key=server.admin_key).valid
                created = client.api_keys.create(name=f"from-child-{os.getpid()}")
                # The same body in every child: each must get its own key (a
                # shared Idempotency-Key would replay one child's key to the other).
                client.api_keys.create(name="same-body-after-fork")
                ok = ok and asyncio.run(asyncio.wait_for(averify(), 20))
                ok = ok and client.api_keys.get(created.id).name == created.name
                code = 0 if ok else 3
            except BaseException as exc:  # noqa: BLE001 - report and exit
                print(f"child failed: {exc!r}", file=sys.stderr)
                code = 2
            finally:
                os._exit(code)
        pids.append(pid)
        # The parent keeps working while children run.
        assert client.keys.verify(key=server.admin_key).valid
    for pid in pids:
        assert _wait_child(pid, 45) == 0
    assert client.keys.verify(key=server.admin_key).valid
    assert asyncio.run(asyncio.wait_for(averify(), 30))
    names = [k.name for k in client.api_keys.list()]
    assert sum(1 for n in names if n.startswith("from-child-")) >= 2
    assert names.count("same-body-after-fork") == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_right_after_async_calls(server: Server) -> None:
    """Fork while the Rust runtime may still be finishing the parent's async
    tasks (releasing their Python references): 10 rounds, each bounded."""
    akw = keyward.AsyncKeyward(server.admin_key, base_url=server.base_url)
    kw = Keyward(server.admin_key, base_url=server.base_url)

    async def burst() -> bool:
        results = await asyncio.gather(*(akw.keys.verify(key=server.admin_key) for _ in range(5)))
        return all(r.valid for r in results)

    for _ in range(10):
        assert asyncio.run(asyncio.wait_for(burst(), 30))
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                faulthandler.dump_traceback_later(20, exit=True)
                ok = kw.keys.verify(key=server.admin_key).valid
                ok = ok and asyncio.run(asyncio.wait_for(burst(), 15))
                code = 0 if ok else 3
            except BaseException as exc:  # noqa: BLE001
                print(f"child failed: {exc!r}", file=sys.stderr)
                code = 2
            finally:
                os._exit(code)
        assert _wait_child(pid, 30) == 0
    assert kw.keys.verify(key=server.admin_key).valid
