"""An async HTTP load generator for loopback: bounded requests, latencies, no third party.

Two shapes: `closed_loop` keeps `concurrency` requests in flight until `total` have been
answered (the server's capacity: requests per second); `open_loop` starts requests at a
fixed rate for a fixed count whatever the answers do (latency at a given load). Every
request counts; a non-2xx answer or no answer is counted apart, never dropped. A request of
`open_loop` waits for a free connection and its latency counts from when it got one, so too
few connections show as an achieved rate below the one asked for.

The client is a few lines of HTTP/1.1 over asyncio streams: httpx costs about 2 ms of CPU
per request on a 2-core machine, which at 500 req/s would be a whole core, and what is
measured must be the server.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_S = 30.0
NO_ANSWER = 599


@dataclass(frozen=True)
class Request:
    url: str
    json: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        url = urllib.parse.urlsplit(self.url)
        body = json.dumps(self.json).encode()
        headers = {
            "Host": url.netloc,
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            **self.headers,
        }
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return f"POST {url.path} HTTP/1.1\r\n{head}\r\n".encode() + body


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


class _Connection:
    """One keep-alive connection: sends a prepared request, reads the status and the body."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"transfer-encoding":
                raise ValueError("a chunked answer: not read here")
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class _Pool:
    """`connections` connections to the request's server, each used by one request at a time."""

    def __init__(self, request: Request, connections: int) -> None:
        url = urllib.parse.urlsplit(request.url)
        self.raw = request.encoded()
        self.idle: asyncio.Queue[_Connection] = asyncio.Queue()
        for _ in range(connections):
            self.idle.put_nowait(_Connection(url.hostname or "127.0.0.1", url.port or 80))

    async def one(self, result: LoadResult) -> None:
        connection = await self.idle.get()
        started = time.perf_counter()
        try:
            status = await asyncio.wait_for(connection.send(self.raw), TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError, TimeoutError):
            connection.close()
            status = NO_ANSWER
        finally:
            self.idle.put_nowait(connection)
        if 200 <= status < 300:
            result.latencies_s.append(time.perf_counter() - started)
        result.statuses[status] += 1

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


async def closed_loop(request: Request, total: int, concurrency: int) -> LoadResult:
    """`total` requests, `concurrency` at a time."""
    result = LoadResult()
    remaining = iter(range(total))
    pool = _Pool(request, concurrency)

    async def lane() -> None:
        for _ in remaining:
            await pool.one(result)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    pool.close()
    return result


async def open_loop(
    request: Request, total: int, rate_per_s: float, connections: int
) -> LoadResult:
    """`total` requests started at `rate_per_s`, each on time whatever the others do."""
    result = LoadResult()
    loop = asyncio.get_running_loop()
    pool = _Pool(request, connections)
    started = loop.time()
    pending = []
    for n in range(total):
        delay = started + n / rate_per_s - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(pool.one(result)))
    await asyncio.gather(*pending)
    result.elapsed_s = loop.time() - started
    pool.close()
    return result
