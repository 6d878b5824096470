"""`switchyard bench results`: Celery's stock database backend against Switchyard's.

Both run the same no-op tasks through the same `default` pool; only the result backend
differs (SWITCHYARD_RESULT_BACKEND, for the workers and for the client).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from celery import Celery, chord
from celery.result import AsyncResult

from config.settings import ENV_PREFIX
from ops.bench import tasks as bench_tasks
from ops.bench.clients import celery_app
from ops.bench.model import Configuration, Figure, Progress, Suite, Workload

RESULT_TIMEOUT_S = 600.0
PUBLISHERS = 4
BACKEND_ENV = f"{ENV_PREFIX}RESULT_BACKEND"

THROUGHPUT = Figure(
    "throughput",
    "end-to-end throughput, results stored",
    "tasks/s",
    "higher",
    ">= 3x stock",
    lambda value, stock: value >= 3 * stock,
)
ROUND_TRIP_P50 = Figure(
    "round_trip_p50",
    "serial round trip apply -> get(), p50",
    "ms",
    "lower",
    "<= 5 ms",
    lambda value, _: value <= 5.0,
)
ROUND_TRIP_P99 = Figure("round_trip_p99", "serial round trip apply -> get(), p99", "ms", "lower")
PUBLISH_P50 = Figure(
    "publish_p50", "of which apply_async (publish, broker confirm), p50", "ms", "lower"
)
CHORD_DELAY = Figure(
    "chord_delay",
    "chord: last header task done -> body starts",
    "ms",
    "lower",
    "< 100 ms",
    lambda value, _: value < 100.0,
)


@dataclass(frozen=True)
class Sizes:
    tasks: int = 10_000
    round_trips: int = 200
    chord_header: int = 1_000


def throughput(app: Celery, progress: Progress, tasks: int) -> dict[str, float]:
    """Send `tasks` no-ops, then wait for every result; tasks per second overall.

    The tasks are sent by `PUBLISHERS` threads, each on its own connection: a publish waits
    for the broker's confirm, so a single publisher would measure the confirm latency, not
    how fast tasks complete with their results stored.
    """
    noop = app.signature(bench_tasks.noop.name)
    shares = [tasks // PUBLISHERS + (i < tasks % PUBLISHERS) for i in range(PUBLISHERS)]

    def publish(count: int) -> list[AsyncResult[Any]]:
        with app.producer_or_acquire() as producer:
            return [noop.apply_async(producer=producer) for _ in range(count)]

    started = time.perf_counter()
    with ThreadPoolExecutor(PUBLISHERS) as executor:
        results = [r for batch in executor.map(publish, shares) for r in batch]
    sent = time.perf_counter()
    progress(f"sent {tasks:,} in {sent - started:.1f} s; waiting for the results")
    app.ResultSet(results).get(timeout=RESULT_TIMEOUT_S)
    return {THROUGHPUT.key: tasks / (time.perf_counter() - started)}


def round_trip(app: Celery, progress: Progress, round_trips: int) -> dict[str, float]:
    """One task at a time: apply, then get(); p50 and p99 of the wall time of each."""
    noop = app.signature(bench_tasks.noop.name)
    for _ in range(10):  # warm connections and worker children first
        noop.apply_async().get(timeout=RESULT_TIMEOUT_S)
    times, publish_times = [], []
    for _ in range(round_trips):
        started = time.perf_counter()
        result = noop.apply_async()
        published = time.perf_counter()
        result.get(timeout=RESULT_TIMEOUT_S)
        times.append((time.perf_counter() - started) * 1000)
        publish_times.append((published - started) * 1000)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {
        ROUND_TRIP_P50.key: statistics.median(times),
        ROUND_TRIP_P99.key: cuts[98],
        PUBLISH_P50.key: statistics.median(publish_times),
    }


def chord_delay(app: Celery, progress: Progress, header: int) -> dict[str, float]:
    """A chord of `header` tasks; the body reports how long after the last one it started."""
    tasks = [app.signature(bench_tasks.finished_at.name) for _ in range(header)]
    body = app.signature(bench_tasks.delay_since_last.name)
    result = chord(tasks, app=app)(body)
    delay_s = float(result.get(timeout=RESULT_TIMEOUT_S))
    return {CHORD_DELAY.key: delay_s * 1000}


def results_suite(sizes: Sizes) -> Suite:
    return Suite(
        name="results",
        configurations=(
            Configuration(
                "stock", {BACKEND_ENV: "stock"}, "Celery's db+postgresql+psycopg:// backend"
            ),
            Configuration(
                "switchyard", {BACKEND_ENV: "switchyard"}, "results.backend (this project)"
            ),
        ),
        workloads=(
            Workload(
                f"throughput of {sizes.tasks:,} tasks",
                (THROUGHPUT,),
                lambda client, progress, _: throughput(celery_app(client), progress, sizes.tasks),
            ),
            Workload(
                f"{sizes.round_trips} serial round trips",
                (ROUND_TRIP_P50, ROUND_TRIP_P99, PUBLISH_P50),
                lambda client, progress, _: round_trip(
                    celery_app(client), progress, sizes.round_trips
                ),
            ),
            Workload(
                f"chord of {sizes.chord_header:,}",
                (CHORD_DELAY,),
                lambda client, progress, _: chord_delay(
                    celery_app(client), progress, sizes.chord_header
                ),
            ),
        ),
    )
