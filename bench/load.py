"""The HTTP load generator the service benchmarks share: closed-loop clients on aiohttp and uvloop.

Why not httpx: on this project's 2-core machines an httpx client with 50 connections spent more
CPU per request than the service did answering it, so it measured itself. A trivial GET that
httpx drove at ~420 req/s, this client drives at ~9,600 req/s against the same service (wrk: ~6,500).
The benchmarks also report the service's own CPU time per request (`cpu_seconds`), a figure that
does not depend on the client.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def session(base_url: str, clients: int) -> aiohttp.ClientSession:
    """One keep-alive connection per client; idle ones are dropped before uvicorn's 5 s keep-alive
    timeout, so a request never races the server closing its connection."""
    connector = aiohttp.TCPConnector(limit=clients, keepalive_timeout=4)
    return aiohttp.ClientSession(base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def wait_healthy(base_url: str, service: subprocess.Popen, logs: Path, seconds: float = 60) -> None:
    """Wait until the service at `base_url` answers /healthz with 200; stop the benchmark with a
    pointer to its logs if it exits or stays unhealthy."""
    async with aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=10)) as http:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                async with http.get("/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if service.poll() is not None:
                raise SystemExit(f"the service stopped; see {logs}")
            await asyncio.sleep(0.1)
    raise SystemExit(f"the service was not healthy after {seconds:.0f} s; see {logs}")


class Response:
    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Recorder:
    """Latencies per kind of request, and every error counted with a few samples."""

    def __init__(self, *kinds: str) -> None:
        self.latencies: dict[str, list[float]] = {kind: [] for kind in kinds}
        self.errors: Counter = Counter()
        self.samples: list[str] = []
        self.retried = 0  # requests sent again after the connection broke (see `retries`)

    async def call(
        self, http: aiohttp.ClientSession, kind: str, method: str, path: str, *, ok=range(200, 300), retries: int = 0, **kw
    ) -> Response | None:
        """Send one request; the response if its status is in `ok`, else None (and the error counted).

        `retries`: how often to send it again when the connection broke before an answer arrived
        (the latency then counts from the first attempt)."""
        started = time.perf_counter()
        for attempt in range(retries + 1):
            try:
                async with http.request(method, path, **kw) as raw:
                    response = Response(raw.status, await raw.read())
                break
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                if attempt == retries:
                    self.errors[f"{kind} {type(exc).__name__}"] += 1
                    return None
                self.retried += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                self.errors[f"{kind} {type(exc).__name__}"] += 1
                return None
        self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        if response.status not in ok:
            self.errors[f"{kind} {method} {response.status}"] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{method} {path} -> {response.status} {response.body[:200]!r}")
            return None
        return response

    def figures(self, kind: str, elapsed: float | None = None) -> dict:
        values = self.latencies.get(kind, [])
        out = {
            "requests": len(values),
            "p50_ms": round(pct(values, 50) * 1000, 2),
            "p99_ms": round(pct(values, 99) * 1000, 2),
            "max_ms": round(max(values, default=0) * 1000, 2),
        }
        if elapsed:
            out["rps"] = round(len(values) / elapsed, 1)
        return out


async def run_pool(jobs: Iterable[Callable[[], Awaitable[Any]]], clients: int) -> float:
    """Run the jobs (in order, each when a client is free) on `clients` closed-loop clients; the seconds taken."""
    pending = list(jobs)
    pending.reverse()

    async def client() -> None:
        while pending:
            await pending.pop()()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


def run(main: Coroutine) -> Any:
    """Run the benchmark's main coroutine on uvloop (the client's own overhead shares the cores)."""
    import uvloop

    return uvloop.run(main)
