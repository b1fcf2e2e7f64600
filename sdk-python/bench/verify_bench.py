"""Time N verifies through keyward.Keyward vs raw httpx against the same server.

Not a test: a measurement of what the SDK layer (Python → pyo3 → Rust facade →
reqwest, and back into typed Python objects) costs over a bare HTTP client.

    python sdk-python/bench/verify_bench.py                  # starts target/debug/keyward itself
    python sdk-python/bench/verify_bench.py -n 5000 --server-bin target/release/keyward
    KEYWARD_API_KEY=… KEYWARD_BASE_URL=… python sdk-python/bench/verify_bench.py   # an existing server

Both clients run sequentially on one thread with keep-alive connections, and
alternate in rounds so server warm-up and noise hit both alike.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import httpx
import keyward

ROOT = Path(__file__).resolve().parents[2]


def start_server(binary: Path) -> Tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="kw-bench-")
    proc = subprocess.Popen(
        [str(binary), "--listen", f"127.0.0.1:{port}", "--database-url", f"sqlite://{tmp}/kw.db"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    line: List[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=60)
    if not line or not line[0].strip():
        proc.kill()
        sys.exit("server printed no admin key")
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        sys.exit("server did not become healthy")
    return proc, base_url, line[0].decode().strip()


def timed(fn: Callable[[], None], n: int) -> List[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(name: str, samples: List[float]) -> Tuple[float, str]:
    total = sum(samples)
    s = sorted(samples)
    p50 = s[len(s) // 2] * 1e6
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))] * 1e6
    line = (
        f"{name:<18} {len(samples):>6} calls  {len(samples) / total:>8.0f} req/s  "
        f"mean {statistics.mean(samples) * 1e6:>7.0f} µs  p50 {p50:>7.0f} µs  p99 {p99:>7.0f} µs"
    )
    return total, line


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="verifies per client (default 2000)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    ap.add_argument("--server-bin", type=Path, default=ROOT / "target" / "debug" / "keyward")
    args = ap.parse_args(argv)

    proc = None
    if os.environ.get("KEYWARD_API_KEY") and os.environ.get("KEYWARD_BASE_URL"):
        base_url, admin = os.environ["KEYWARD_BASE_URL"], os.environ["KEYWARD_API_KEY"]
    else:
        proc, base_url, admin = start_server(args.server_bin)
    try:
        kw = keyward.Keyward(admin, base_url=base_url)
        key = kw.api_keys.create(name="bench", scopes=["bench"]).key.get_secret_value()
        raw = httpx.Client(base_url=base_url, headers={"authorization": f"Bearer {admin}"})

        def sdk() -> None:
            r = kw.keys.verify(key=key, required_scopes=["bench"])
            assert r.valid

        def plain() -> None:
            resp = raw.post("/v1/keys/verify", json={"key": key, "required_scopes": ["bench"]})
            resp.raise_for_status()
            assert resp.json()["valid"]

        for fn in (sdk, plain):  # warm both connection pools and the server cache
            timed(fn, 100)
        per_round = max(1, args.n // args.rounds)
        sdk_samples: List[float] = []
        raw_samples: List[float] = []
        for _ in range(args.rounds):
            sdk_samples += timed(sdk, per_round)
            raw_samples += timed(plain, per_round)
        sdk_total, sdk_line = summary("keyward.Keyward", sdk_samples)
        raw_total, raw_line = summary("httpx.Client", raw_samples)
        print(f"server {base_url} ({'started by the bench: ' + str(args.server_bin) if proc else 'external'})")
        print(sdk_line)
        print(raw_line)
        print(f"ratio keyward/httpx time: {sdk_total / raw_total:.2f}  (< 1: the SDK is faster)")
        raw.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
