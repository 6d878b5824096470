"""`switchyard bench`: stock Celery against Switchyard, the same no-op workloads on each.

The stock side is what a new Celery user runs (`ops.bench.stock_app`: defaults, the stock
database backend, `apply_async` in a loop); the Switchyard side is `config.app:app` with the
`default` pool's real worker command line, its result backend and `producer.bulk.enqueue_many`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from celery import Celery, Signature
from celery.result import AsyncResult

from ops.bench import reference, stock_app
from ops.bench.model import Configuration, Figure, Progress, Suite, Workload
from ops.bench.results_suite import BACKEND_ENV, ROUND_TRIP_P50, ROUND_TRIP_P99, round_trip
from ops.bench.tasks import noop
from producer.bulk import enqueue_many

RESULT_TIMEOUT_S = 600.0
WAIT_INTERVAL_S = 0.005
VERIFIED_SAMPLE = 20

PUBLISH = Figure(
    "publish", "publish rate", "tasks/s", "higher", ">= 5x stock", lambda v, s: v >= 5 * s
)
THROUGHPUT_BARE = Figure(
    "throughput_no_results",
    "end-to-end throughput, no results",
    "tasks/s",
    "higher",
    ">= 2x stock",
    lambda v, s: v >= 2 * s,
)
THROUGHPUT_STORED = Figure(
    "throughput_results",
    "end-to-end throughput, results stored",
    "tasks/s",
    "higher",
    ">= 3x stock",
    lambda v, s: v >= 3 * s,
)
PEAK_MEMORY = Figure("peak_rss", "worker group peak RSS (main + children)", "MiB", "lower")


@dataclass(frozen=True)
class Sizes:
    tasks: int = 10_000
    round_trips: int = 200


def apply_in_loop(app: Celery, signatures: list[Signature[Any]]) -> list[AsyncResult[Any]]:
    """How stock Celery code sends many tasks."""
    return [signature.apply_async() for signature in signatures]


def bulk(app: Celery, signatures: list[Signature[Any]]) -> list[AsyncResult[Any]]:
    return enqueue_many(signatures, app)


def _send(configuration: Configuration) -> Any:
    return configuration.send_many or apply_in_loop


def _noops(app: Celery, count: int, ignore_result: bool = False) -> list[Signature[Any]]:
    base = app.signature(noop.name, immutable=True)
    if ignore_result:
        base = base.set(ignore_result=True)  # type: ignore[call-arg]  # an apply_async option
    return [base.clone() for _ in range(count)]


def probe_queue_name(app: Celery) -> str:
    """The queue this app routes the no-op probe to (`celery` for stock, `default` here)."""
    return str(app.amqp.router.route({}, noop.name)["queue"].name)


def publish(
    app: Celery, progress: Progress, configuration: Configuration, tasks: int
) -> dict[str, float]:
    """Send `tasks` no-ops while no worker runs; then purge them."""
    signatures = _noops(app, tasks)
    started = time.perf_counter()
    _send(configuration)(app, signatures)
    rate = tasks / (time.perf_counter() - started)
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel  # the stubs know no queue_purge
        channel.queue_purge(probe_queue_name(app))
    return {PUBLISH.key: rate}


def throughput_bare(
    app: Celery, progress: Progress, configuration: Configuration, tasks: int
) -> dict[str, float]:
    """`tasks` no-ops that store no result, until the workers have run them all."""
    _, rate = _run_all(app, progress, configuration, tasks, store_results=False)
    return {THROUGHPUT_BARE.key: rate}


def throughput_stored(
    app: Celery, progress: Progress, configuration: Configuration, tasks: int
) -> dict[str, float]:
    """`tasks` no-ops whose results are stored, until the workers have run them all.

    What is timed is the workers' side (run + store); fetching every result back is the
    round trip's business, and a sample is read afterwards to check they were stored.
    """
    results, rate = _run_all(app, progress, configuration, tasks, store_results=True)
    step = max(1, len(results) // VERIFIED_SAMPLE)
    app.ResultSet(results[::step]).get(timeout=RESULT_TIMEOUT_S, interval=WAIT_INTERVAL_S)
    return {THROUGHPUT_STORED.key: rate}


def _run_all(
    app: Celery, progress: Progress, configuration: Configuration, tasks: int, store_results: bool
) -> tuple[list[AsyncResult[Any]], float]:
    """Send `tasks` no-ops, then one more that stores its result, and wait for that one.

    The last task leaves the queue after every other one, so its stored result marks the
    end, within the few messages the workers hold prefetched. Returns tasks per second.
    """
    started = time.perf_counter()
    results = _send(configuration)(app, _noops(app, tasks, ignore_result=not store_results))
    sent = time.perf_counter()
    progress(f"sent {tasks:,} in {sent - started:.1f} s; waiting for the last")
    last = app.signature(noop.name).apply_async()
    last.get(timeout=RESULT_TIMEOUT_S, interval=WAIT_INTERVAL_S)
    return results, (tasks + 1) / (time.perf_counter() - started)


def compare_suite(sizes: Sizes) -> Suite:
    stock_queue = stock_app.app.conf.task_default_queue
    return Suite(
        name="stock-vs-switchyard",
        configurations=(
            Configuration(
                "stock",
                {},
                "Celery defaults: prefork, prefetch x4, db+postgresql backend, apply_async loop",
                app_factory=stock_app.create_stock_app,
                worker_argv=tuple(stock_app.WORKER_ARGV),
                queues=(stock_queue,),
            ),
            Configuration(
                "switchyard",
                {BACKEND_ENV: "switchyard"},
                "config.app, the default pool's worker, results.backend, bulk enqueue",
                send_many=bulk,
            ),
        ),
        workloads=(
            Workload(
                f"publish {sizes.tasks:,}",
                (PUBLISH,),
                lambda app, progress, c: publish(app, progress, c, sizes.tasks),
                with_workers=False,
            ),
            Workload(
                f"{sizes.tasks:,} tasks, no results",
                (THROUGHPUT_BARE,),
                lambda app, progress, c: throughput_bare(app, progress, c, sizes.tasks),
            ),
            Workload(
                f"{sizes.tasks:,} tasks, results stored",
                (THROUGHPUT_STORED,),
                lambda app, progress, c: throughput_stored(app, progress, c, sizes.tasks),
                memory=PEAK_MEMORY,
            ),
            Workload(
                f"{sizes.round_trips} serial round trips",
                (ROUND_TRIP_P50, ROUND_TRIP_P99),
                lambda app, progress, _: round_trip(app, progress, sizes.round_trips),
            ),
        ),
        reference=reference.FIGURES,
        measure_reference=lambda progress: reference.measure(sizes.tasks, progress),
        fractions=((PUBLISH, reference.RAW_PUBLISH), (THROUGHPUT_BARE, reference.RAW_CONSUME)),
    )
