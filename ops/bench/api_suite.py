"""`switchyard bench api`: the producer API against the plain FastAPI handler, same run.

Each server runs alone on loopback, one process, against the running stack's broker, and
is driven by `ops.bench.http_load`: first as fast as it answers (`concurrency` requests in
flight, `requests` in all: requests per second), then at a fixed `rate` (latency p50/p99 as
clients see it). Its event loop's lag is read from its own histogram over each phase. The
baselines are `ops.bench.plain_api`: `.delay()` in `async def`, Celery's stock settings,
without and with publisher confirms, and the same handler publishing nothing (the floor:
FastAPI and uvicorn alone, same process model). Nothing consumes during the run; the published
messages are purged afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvloop
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from config.settings import get_settings, stack_dir
from metrics.definitions import API_LOOP_LAG
from ops.bench.http_load import LoadResult, Request, closed_loop, open_loop
from ops.bench.plain_api import CONFIRMS_ENV, METRICS_PORT_ENV, NO_PUBLISH_ENV, TASK
from ops.commands.api import api_argv
from ops.local_metrics import setting_env
from ops.stack.layout import HOST
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor

START_TIMEOUT_S = 60
STOCK_QUEUE = "celery"  # where the stock app's `.delay()` goes
BODY = {"arguments": {"x": 1, "y": 2}}
Progress = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    requests: int
    concurrency: int
    rate: float
    rate_requests: int


@dataclass(frozen=True)
class Server:
    """One configuration: how to start it and what it is."""

    name: str
    description: str
    argv: list[str]
    env: dict[str, str]
    port: int
    metrics_port: int
    token: str | None = None


@dataclass
class Figures:
    name: str
    description: str
    capacity: LoadResult
    at_rate: LoadResult
    lag_capacity_ms: float
    lag_at_rate_ms: float
    cpu_ms_per_request: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "requests_per_s": round(self.capacity.requests_per_s, 1),
            "capacity_non_2xx": self.capacity.answered - self.capacity.ok,
            "rate_p50_ms": round(self.at_rate.percentile_ms(50), 2),
            "rate_p99_ms": round(self.at_rate.percentile_ms(99), 2),
            "rate_achieved_per_s": round(self.at_rate.answered / self.at_rate.elapsed_s, 1),
            "rate_non_2xx": self.at_rate.answered - self.at_rate.ok,
            "loop_lag_p99_ms_at_capacity": self.lag_capacity_ms,
            "loop_lag_p99_ms_at_rate": self.lag_at_rate_ms,
            "server_cpu_ms_per_request": round(self.cpu_ms_per_request, 3),
        }


def servers(base_port: int) -> list[Server]:
    """The producer API, the floor and the two plain handlers, on consecutive loopback ports.

    The plain handler with confirms stays last: the targets compare against it.
    """
    token = secrets.token_urlsafe(24)
    uvicorn = [sys.executable, "-m", "uvicorn", "ops.bench.plain_api:app", "--host", HOST]
    quiet = ["--no-access-log", "--log-level", "warning"]

    def plain(name: str, description: str, index: int, env: dict[str, str]) -> Server:
        """The plain handler on `base_port + index`, its metrics on `base_port + 10 + index`."""
        port, metrics = base_port + index, base_port + 10 + index
        argv = [*uvicorn, "--port", str(port), *quiet]
        return Server(
            name, description, argv, {METRICS_PORT_ENV: str(metrics), **env}, port, metrics
        )

    return [
        Server(
            "switchyard-api",
            "switchyard api: the event loop publishes, shared confirm window (confirms on)",
            api_argv(),
            {
                setting_env("api_tokens"): json.dumps({"bench": token}),
                setting_env("api_port"): str(base_port),
                setting_env("metrics_port"): str(base_port + 10),
                setting_env("metrics_host"): HOST,
            },
            base_port,
            base_port + 10,
            token,
        ),
        plain(
            "fastapi-floor",
            "the plain handler publishing nothing: FastAPI and uvicorn alone",
            3,
            {NO_PUBLISH_ENV: "1"},
        ),
        plain("plain-delay", ".delay() in async def, stock Celery settings (no confirms)", 1, {}),
        plain(
            "plain-delay-confirms",
            ".delay() in async def, stock settings plus publisher confirms",
            2,
            {CONFIRMS_ENV: "1"},
        ),
    ]


def run_api_bench(sizes: Sizes, base_port: int, progress: Progress) -> list[Figures]:
    supervisor = Supervisor(stack_dir() / "logs" / "bench-api")
    results = []
    try:
        for server in servers(base_port):
            progress(f"[{server.name}] starting")
            with _running(supervisor, server) as pid:
                results.append(_measure(server, pid, sizes, progress))
    finally:
        supervisor.stop(timeout=30)
        _purge()
    return results


@contextmanager
def _running(supervisor: Supervisor, server: Server) -> Iterator[int]:
    process = supervisor.start(server.name, server.argv, server.env)
    url = f"http://{HOST}:{server.port}/docs"
    if not wait_until(lambda: not process.alive or _answers(url), START_TIMEOUT_S):
        raise RuntimeError(f"{server.name} did not answer; see {process.log}")
    if not process.alive:
        raise RuntimeError(f"{server.name} exited; see {process.log}")
    try:
        yield process.popen.pid
    finally:
        process.popen.terminate()
        process.popen.wait(30)


def _measure(server: Server, pid: int, sizes: Sizes, progress: Progress) -> Figures:
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    request = Request(f"http://{HOST}:{server.port}/tasks/{TASK}", BODY, headers)
    _run(closed_loop(request, min(100, sizes.requests), 8))  # warm up: connections
    before = _lag_buckets(server.metrics_port)
    progress(f"[{server.name}] {sizes.requests} requests, {sizes.concurrency} in flight")
    cpu_before = _cpu_s(pid)
    capacity = _run(closed_loop(request, sizes.requests, sizes.concurrency))
    cpu_ms = (_cpu_s(pid) - cpu_before) * 1000 / max(capacity.answered, 1)
    middle = _lag_buckets(server.metrics_port)
    progress(f"[{server.name}] {sizes.rate_requests} requests at {sizes.rate:.0f}/s")
    at_rate = _run(
        open_loop(request, sizes.rate_requests, sizes.rate, connections=sizes.concurrency)
    )
    after = _lag_buckets(server.metrics_port)
    return Figures(
        server.name,
        server.description,
        capacity,
        at_rate,
        _p99_bound_ms(before, middle),
        _p99_bound_ms(middle, after),
        cpu_ms,
    )


def _cpu_s(pid: int) -> float:
    """CPU seconds the server process used so far, all its threads (user and system).

    Unlike requests/s this hardly depends on what else the machine runs: on an idle core a
    server answers about 1000 / (CPU ms per request) requests a second.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run the load on uvloop: the generator's own cost must stay small beside the server's."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _lag_buckets(port: int) -> dict[float, float]:
    """The loop-lag histogram's cumulative bucket counts, by upper bound."""
    text = httpx.get(f"http://{HOST}:{port}/metrics", timeout=10).text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != API_LOOP_LAG.family:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets


def _p99_bound_ms(before: dict[float, float], after: dict[float, float]) -> float:
    """The smallest bucket bound holding 99% of the lag samples taken in between (ms)."""
    counts = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    total = counts[-1][1] if counts else 0.0
    for bound, cumulative in counts:
        if total and cumulative >= 0.99 * total:
            return bound * 1000
    return float("nan")


def _purge() -> None:
    """Drop what the run published: nothing consumed it."""
    with Connection(get_settings().broker_url) as conn:
        channel: Any = conn.channel()
        for queue in ("default", STOCK_QUEUE):
            try:
                channel.queue_purge(queue)
            except conn.channel_errors:  # the stock queue may not exist yet
                channel = conn.channel()
        channel.close()


def table(figures: list[Figures], sizes: Sizes) -> list[str]:
    ours, *plain = figures
    lines = [
        f"{'configuration':<22}{'req/s':>8}{'CPU ms/req':>12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'lag p99 ms (max/rate)':>24}{'non-2xx':>9}",
    ]
    for f in figures:
        lag = f"{f.lag_capacity_ms:g} / {f.lag_at_rate_ms:g}"
        errors = (f.capacity.answered - f.capacity.ok) + (f.at_rate.answered - f.at_rate.ok)
        lines.append(
            f"{f.name:<22}{f.capacity.requests_per_s:>8.0f}{f.cpu_ms_per_request:>12.2f}"
            f"{f.at_rate.percentile_ms(50):>9.2f}"
            f"{f.at_rate.percentile_ms(99):>9.2f}{lag:>24}{errors:>9}"
        )
    lines.append("")
    for baseline in plain:
        ratio = ours.capacity.requests_per_s / max(baseline.capacity.requests_per_s, 1e-9)
        cpu = baseline.cpu_ms_per_request / max(ours.cpu_ms_per_request, 1e-9)
        lines.append(
            f"vs {baseline.name}: requests/s {ratio:.2f}x, server CPU per request {cpu:.2f}x less"
        )
    confirms = plain[-1]
    checks = [
        (
            ">= 3x plain-delay-confirms requests/s",
            ours.capacity.requests_per_s >= 3 * confirms.capacity.requests_per_s,
        ),
        (f"loop lag p99 <= 5 ms at {sizes.rate:.0f}/s", ours.lag_at_rate_ms <= 5),
        (f"p99 latency <= 20 ms at {sizes.rate:.0f}/s", ours.at_rate.percentile_ms(99) <= 20),
    ]
    lines += [f"target {text}: {'met' if ok else 'missed'}" for text, ok in checks]
    lines.append(
        f"sizes: {sizes.requests} requests x {sizes.concurrency} in flight; "
        f"{sizes.rate_requests} at {sizes.rate:.0f}/s; lag bounds are histogram buckets"
    )
    return lines
