"""Physical floors measured raw in the same run, printed beside the figures they bound.

- One confirmed publish: pika with publisher confirms, one message at a time, to the queue
  Switchyard's no-op goes to; what `apply_async` with confirms cannot beat.
- One round trip's disk flushes: a confirmed publish to a quorum queue (the broker writes
  it to its log before confirming) plus one synchronous PostgreSQL commit (a transaction
  that holds a transaction id writes and flushes a commit record); a serial apply -> get
  pays both, so neither Celery nor this project can go below their sum.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pika
import psycopg

from config.settings import get_settings
from ops.bench.model import Figure, Progress
from ops.bench.reference import BODY, probe_queue, scratch_queue
from routing.arguments import queue_arguments

CONFIRMED_P50 = Figure(
    "raw_confirmed_publish_p50", "raw pika publish with confirm, serial, p50", "ms", "lower"
)
CONFIRMED_RATE = Figure(
    "raw_confirmed_publish", "raw pika publish with confirm, serial", "msg/s", "higher"
)
FLOOR_P50 = Figure(
    "round_trip_floor_p50",
    "floor: confirmed quorum publish + sync PostgreSQL commit, p50",
    "ms",
    "lower",
)
FLOOR_P99 = Figure(
    "round_trip_floor_p99",
    "floor: confirmed quorum publish + sync PostgreSQL commit, p99",
    "ms",
    "lower",
)
FIGURES = (CONFIRMED_RATE, CONFIRMED_P50, FLOOR_P50, FLOOR_P99)
PROPERTIES = pika.BasicProperties(
    content_type="application/json", content_encoding="utf-8", delivery_mode=2
)


def measure(calls: int, progress: Progress) -> dict[str, float]:
    """Both floors, from `calls` serial operations each."""
    times = _confirmed_publishes(probe_queue().name, calls, purge=True)
    figures = {
        CONFIRMED_P50.key: statistics.median(times),
        CONFIRMED_RATE.key: calls / (sum(times) / 1000),
    }
    progress(f"confirmed publish p50 {figures[CONFIRMED_P50.key]:.2f} ms")
    floor = _publish_and_commit(calls)
    figures[FLOOR_P50.key] = statistics.median(floor)
    figures[FLOOR_P99.key] = _p99(floor)
    progress(f"round-trip floor p50 {figures[FLOOR_P50.key]:.2f} ms")
    return figures


def _confirmed_publishes(
    queue: str, calls: int, purge: bool, after_each: Callable[[], None] | None = None
) -> list[float]:
    """Milliseconds per confirmed publish to `queue`, each followed by `after_each` (timed
    with it) when given; the messages are purged afterwards when `purge`."""
    connection = pika.BlockingConnection(pika.URLParameters(get_settings().broker_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            channel.basic_publish("", queue, BODY, PROPERTIES)
            if after_each is not None:
                after_each()
            times.append((time.perf_counter() - started) * 1000)
        if purge:
            channel.queue_purge(queue)
        return times
    finally:
        connection.close()


def _publish_and_commit(calls: int) -> list[float]:
    """Milliseconds per (confirmed publish to a scratch quorum queue + synchronous commit)."""
    with (
        scratch_queue(queue_arguments("quorum")) as queue,
        psycopg.connect(get_settings().database_url) as db,
    ):
        _require_synchronous_commit(db)

        def commit() -> None:
            db.execute("SELECT pg_current_xact_id()")  # a transaction id: a flushed commit
            db.commit()

        return _confirmed_publishes(queue, calls, purge=False, after_each=commit)


def _require_synchronous_commit(db: psycopg.Connection[Any]) -> None:
    row = db.execute("SHOW synchronous_commit").fetchone()
    db.commit()
    if row is None or row[0] == "off":
        raise RuntimeError("synchronous_commit is off: the floor would not wait for a flush")


def _p99(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[98]
