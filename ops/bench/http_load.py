"""An async HTTP load generator for loopback: bounded requests, latencies, no third party.

Two shapes: `closed_loop` keeps `concurrency` requests in flight until `total` have been
answered (the server's capacity: requests per second); `open_loop` sends at a fixed rate
for a fixed count whatever the answers do (latency at a given load, as clients see it when
they do not slow down with the server). Every request counts; a non-2xx answer is counted
apart, never dropped.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Request:
    url: str
    json: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    """Latencies of the requests answered 2xx, statuses of all, and the wall time taken."""

    latencies_s: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0-100) of the 2xx latencies, in milliseconds."""
        if len(self.latencies_s) < 2:
            return self.latencies_s[0] * 1000 if self.latencies_s else float("nan")
        cuts = statistics.quantiles(self.latencies_s, n=1000, method="inclusive")
        return cuts[min(998, max(0, round(q * 10) - 1))] * 1000


async def _one(client: httpx.AsyncClient, request: Request, result: LoadResult) -> None:
    started = time.perf_counter()
    try:
        reply = await client.post(request.url, json=request.json, headers=request.headers)
        status = reply.status_code
    except httpx.HTTPError:
        status = 599  # no answer: counted as a failure, never dropped
    if 200 <= status < 300:
        result.latencies_s.append(time.perf_counter() - started)
    result.statuses[status] += 1


def _client(connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=TIMEOUT_S)


async def closed_loop(request: Request, total: int, concurrency: int) -> LoadResult:
    """`total` requests, `concurrency` at a time."""
    result = LoadResult()
    remaining = iter(range(total))
    async with _client(concurrency) as client:

        async def lane() -> None:
            for _ in remaining:
                await _one(client, request, result)

        started = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        result.elapsed_s = time.perf_counter() - started
    return result


async def open_loop(
    request: Request, total: int, rate_per_s: float, connections: int
) -> LoadResult:
    """`total` requests started at `rate_per_s`, each on time whatever the others do."""
    result = LoadResult()
    loop = asyncio.get_running_loop()
    async with _client(connections) as client:
        started = loop.time()
        pending = []
        for n in range(total):
            delay = started + n / rate_per_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(_one(client, request, result)))
        await asyncio.gather(*pending)
        result.elapsed_s = loop.time() - started
    return result
