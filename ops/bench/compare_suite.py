"""`switchyard bench`: stock Celery, Dramatiq and Switchyard, the same no-op workloads on each.

The stock side is what a new Celery user runs (`ops.bench.stock_app`: defaults, the stock
database backend, `apply_async` in a loop). Dramatiq runs twice: as a new user starts it
(`dramatiq` with its default processes and threads) and tuned (`ops.bench.dramatiq_peer`).
The Switchyard side is `config.app:app` with the `default` pool's real worker command line,
its result backend, `producer.bulk.enqueue_many`, and `producer.fast_apply` for the
`apply_async` workloads; it is the last configuration, and its ratio to each peer is what
the targets judge.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from ops.bench import floors, reference, stock_app
from ops.bench.clients import bulk, celery_app
from ops.bench.model import (
    Configuration,
    Figure,
    Progress,
    StartWorkers,
    Suite,
    Workload,
    at_least,
    at_most,
    within,
)
from ops.bench.results_suite import BACKEND_ENV, ROUND_TRIP_P50, ROUND_TRIP_P99, round_trip
from ops.bench.workloads import apply_serial, drain, end_to_end, publish

STOCK, DRAMATIQ, TUNED, QUORUM, SWITCHYARD = (
    "stock",
    "dramatiq",
    "dramatiq-tuned",
    "dramatiq-quorum",
    "switchyard",
)
# The tuned Dramatiq: one process per core, 8 threads each, and a deeper prefetch than its
# default of 2 x threads, as the Switchyard pool is tuned (prefetch 64 per inline worker).
TUNED_PROCESSES, TUNED_THREADS, TUNED_PREFETCH = 2, 8, 256

PUBLISH = Figure("publish", "publish rate", "tasks/s", "higher", targets=(at_least(5, STOCK),))
APPLY_RATE = Figure("apply_async", "apply_async one by one, rate", "calls/s", "higher")
APPLY_P50 = Figure(
    "apply_async_p50",
    "apply_async one by one, p50 per call",
    "ms",
    "lower",
    targets=(within(1.5, floors.CONFIRMED_P50.key, "raw confirmed publish"),),
)
PEER_TARGETS = (at_least(1.0, DRAMATIQ), at_least(1.0, TUNED), at_least(4, STOCK))
DRAIN = Figure("drain", "drain of a queued backlog", "tasks/s", "higher", targets=PEER_TARGETS)
THROUGHPUT_BARE = Figure(
    "throughput_no_results",
    "end-to-end throughput, no results",
    "tasks/s",
    "higher",
    targets=PEER_TARGETS,
)
THROUGHPUT_STORED = Figure(
    "throughput_results",
    "end-to-end throughput, results stored",
    "tasks/s",
    "higher",
    targets=(at_least(5, STOCK),),
)
PEAK_MEMORY = Figure("peak_rss", "worker group peak RSS (main + children)", "MiB", "lower")
ROUND_TRIP_P50_FLOOR = Figure(
    ROUND_TRIP_P50.key,
    ROUND_TRIP_P50.label,
    "ms",
    "lower",
    targets=(within(1.5, floors.FLOOR_P50.key, "floor p50"),),
)
ROUND_TRIP_P99_LIMIT = Figure(
    ROUND_TRIP_P99.key, ROUND_TRIP_P99.label, "ms", "lower", targets=(at_most(10, "ms"),)
)


@dataclass(frozen=True)
class Sizes:
    tasks: int = 10_000
    round_trips: int = 200
    calls: int = 1_000
    queue_types: bool = False


def _celery(configuration: Configuration) -> bool:
    return configuration.kind == "celery"


def dramatiq_configuration(
    name: str, description: str, processes: int | None, threads: int | None, **env: str
) -> Configuration:
    from ops.bench import dramatiq_peer as peer  # imports Dramatiq and builds its broker

    kind = env.get(peer.QUEUE_TYPE_ENV, "classic")

    def client(start_workers: StartWorkers) -> peer.DramatiqClient:
        return peer.DramatiqClient(start_workers, kind)

    return Configuration(
        name,
        env,
        description,
        worker_argv=peer.worker_argv(processes, threads),
        queues=(peer.QUEUES[kind],),
        kind="dramatiq",
        client_factory=client,
        declare=lambda _: peer.declare(kind),
        consumers=processes or peer.default_processes(),
        queue_type=kind,
    )


def configurations(sizes: Sizes) -> tuple[Configuration, ...]:
    from ops.bench.dramatiq_peer import PREFETCH_ENV, QUEUE_TYPE_ENV

    tuned = {PREFETCH_ENV: str(TUNED_PREFETCH)}
    peers = [
        Configuration(
            STOCK,
            {},
            "Celery defaults: prefork, prefetch x4, db+postgresql backend, apply_async loop",
            app_factory=stock_app.create_stock_app,
            worker_argv=tuple(stock_app.WORKER_ARGV),
            queues=(stock_app.app.conf.task_default_queue,),
            queue_type="classic",
        ),
        dramatiq_configuration(
            DRAMATIQ, "`dramatiq` CLI defaults: CPU count processes x 8 threads", None, None
        ),
        dramatiq_configuration(
            TUNED,
            f"{TUNED_PROCESSES} processes x {TUNED_THREADS} threads, prefetch {TUNED_PREFETCH}",
            TUNED_PROCESSES,
            TUNED_THREADS,
            **tuned,
        ),
    ]
    if sizes.queue_types:
        peers.append(
            dramatiq_configuration(
                QUORUM,
                "dramatiq-tuned on a quorum queue: the queue type's share",
                TUNED_PROCESSES,
                TUNED_THREADS,
                **tuned,
                **{QUEUE_TYPE_ENV: "quorum"},
            )
        )
    switchyard = Configuration(
        SWITCHYARD,
        {BACKEND_ENV: "switchyard"},
        "config.app, the default pool's worker, results.backend, bulk enqueue, fast apply_async",
        app_factory=producer_app,
        send_many=bulk,
        fast_apply=True,
        queue_type="quorum",
    )
    return (*peers, switchyard)


def producer_app() -> Celery:
    """The app a Switchyard producer sends with: `config.app`'s, whose tasks are
    `SwitchyardTask`s (publish checks, the fast `apply_async`). An app built from the same
    settings would send the benchmark's tasks by name (`send_task`), which neither takes."""
    from config.app import app

    return app


def measure_reference(sizes: Sizes, progress: Progress) -> dict[str, float]:
    return {**reference.measure(sizes.tasks, progress), **floors.measure(sizes.calls, progress)}


def compare_suite(sizes: Sizes) -> Suite:
    return Suite(
        name="peers",
        configurations=configurations(sizes),
        workloads=(
            Workload(
                f"publish {sizes.tasks:,}",
                (PUBLISH,),
                lambda client, progress, _: {PUBLISH.key: publish(client, progress, sizes.tasks)},
                stage="idle",
            ),
            Workload(
                f"apply_async x {sizes.calls:,}",
                (APPLY_RATE, APPLY_P50),
                lambda client, progress, _: dict(
                    zip(
                        (APPLY_RATE.key, APPLY_P50.key),
                        apply_serial(client, progress, sizes.calls),
                        strict=True,
                    )
                ),
                stage="idle",
                applies=_celery,
            ),
            Workload(
                f"drain {sizes.tasks:,}",
                (DRAIN,),
                lambda client, progress, _: {DRAIN.key: drain(client, progress, sizes.tasks)},
                stage="drain",
            ),
            Workload(
                f"{sizes.tasks:,} tasks, no results",
                (THROUGHPUT_BARE,),
                lambda client, progress, _: {
                    THROUGHPUT_BARE.key: end_to_end(client, progress, sizes.tasks, False)
                },
                memory=PEAK_MEMORY,
            ),
            Workload(
                f"{sizes.tasks:,} tasks, results stored",
                (THROUGHPUT_STORED,),
                lambda client, progress, _: {
                    THROUGHPUT_STORED.key: end_to_end(client, progress, sizes.tasks, True)
                },
                applies=_celery,
            ),
            Workload(
                f"{sizes.round_trips} serial round trips",
                (ROUND_TRIP_P50_FLOOR, ROUND_TRIP_P99_LIMIT),
                lambda client, progress, _: round_trip(
                    celery_app(client), progress, sizes.round_trips
                ),
                applies=_celery,
            ),
        ),
        reference=(*reference.FIGURES, *floors.FIGURES),
        measure_reference=lambda progress: measure_reference(sizes, progress),
        fractions=((PUBLISH, reference.RAW_PUBLISH), (THROUGHPUT_BARE, reference.RAW_CONSUME)),
        beside=(
            (APPLY_P50, floors.CONFIRMED_P50),
            (ROUND_TRIP_P50_FLOOR, floors.FLOOR_P50),
            (ROUND_TRIP_P99_LIMIT, floors.FLOOR_P99),
        ),
        notes=[
            "queue types: stock Celery and Dramatiq declare classic queues; Switchyard's "
            "`default` is a quorum queue (replicated log, fsync before the confirm), which "
            "costs broker CPU per message: "
            + (
                f"{QUORUM} is the tuned Dramatiq on a quorum queue"
                if sizes.queue_types
                else "run with --queue-types to see Dramatiq on a quorum queue too"
            ),
            "Dramatiq has no result backend on this stack (its own are Redis and Memcached): "
            "its results-stored, round-trip and apply_async figures are '-'",
        ],
    )
