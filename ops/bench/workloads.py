"""The workloads every peer runs through its `Client`: publish, drain, end to end; and the
serial `apply_async` a web handler makes, for the Celery peers.

The end of a run is the marker task's file: it is queued after every no-op, so it runs
after all of them, within the few messages the workers hold prefetched.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pika

from config.settings import get_settings
from ops.bench.clients import celery_app
from ops.bench.model import Client, Progress
from ops.bench.tasks import noop
from ops.bench.workers import BenchError

RESULT_TIMEOUT_S = 600.0
WAIT_INTERVAL_S = 0.002
VERIFIED_SAMPLE = 20
WARM_UP_CALLS = 10


def publish(client: Client, progress: Progress, tasks: int) -> float:
    """Tasks per second sending `tasks` no-ops while no worker runs; then purged."""
    started = time.perf_counter()
    client.send_noops(tasks, store_results=False)
    rate = tasks / (time.perf_counter() - started)
    client.purge()
    return rate


def apply_serial(client: Client, progress: Progress, calls: int) -> tuple[float, float]:
    """`apply_async` one call after another, as a web handler sends: (calls/s, p50 ms)."""
    signature = celery_app(client).signature(noop.name)
    for _ in range(WARM_UP_CALLS):
        signature.apply_async()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        signature.apply_async()
        times.append((time.perf_counter() - started) * 1000)
    client.purge()
    return calls / (sum(times) / 1000), statistics.median(times)


def end_to_end(client: Client, progress: Progress, tasks: int, store_results: bool) -> float:
    """Tasks per second from the first publish until the workers have run every task.

    With results stored, a sample of them is read back afterwards (not timed).
    """
    with end_marker() as marker:
        started = time.perf_counter()
        results = client.send_noops(tasks, store_results)
        client.send_marker(str(marker))
        progress(f"sent {tasks:,} in {time.perf_counter() - started:.1f} s; waiting for the last")
        wait_for(marker)
        rate = (tasks + 1) / (time.perf_counter() - started)
    if store_results:
        step = max(1, len(results) // VERIFIED_SAMPLE)
        celery_app(client).ResultSet(results[::step]).get(
            timeout=RESULT_TIMEOUT_S, interval=WAIT_INTERVAL_S
        )
    return rate


def drain(client: Client, progress: Progress, tasks: int) -> float:
    """Queue `tasks` no-ops with no worker running, then start the workers: tasks per second
    from the first delivery (the queue's ready count first falls) until the last one ran.

    Timing from the first delivery leaves out the workers' start-up (imports, connecting),
    which differs by library and is paid once per deploy, not per task.
    """
    with end_marker() as marker:
        client.send_noops(tasks, store_results=False)
        client.send_marker(str(marker))
        progress(f"{tasks:,} queued; starting the workers")
        with FirstDelivery(client.queue, tasks + 1) as first, client.start_workers(True):
            wait_for(marker)
            done = time.perf_counter()
    if first.at is None:
        raise BenchError(f"{client.queue}: the drain ended before a delivery was seen")
    return (tasks + 1) / (done - first.at)


class FirstDelivery:
    """When the ready count of `queue` first falls below `queued`: the first delivery; and
    what `on_first` returns at that moment (CPU counters, for a cost per task).

    Polled with passive declares on its own connection, every few milliseconds, from
    before the workers start until the count falls.
    """

    def __init__(
        self,
        queue: str,
        queued: int,
        on_first: Callable[[], tuple[float, float]] | None = None,
    ) -> None:
        self.queue = queue
        self.queued = queued
        self.on_first = on_first
        self.at: float | None = None
        self.cpu: tuple[float, float] | None = None  # what `on_first` returned, then
        self.polled = threading.Event()  # set once the count was read at least once
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> FirstDelivery:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait(self, timeout: float) -> None:
        """Until the first delivery was seen (or `timeout` seconds)."""
        self._thread.join(timeout)

    def _poll(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(get_settings().broker_url))
        try:
            channel = connection.channel()
            while not self._stop.is_set():
                ready = channel.queue_declare(self.queue, passive=True).method.message_count
                self.polled.set()
                if ready < self.queued:
                    self.at = time.perf_counter()
                    self.cpu = self.on_first() if self.on_first else None
                    return
                time.sleep(WAIT_INTERVAL_S)
        finally:
            connection.close()


@contextmanager
def end_marker() -> Iterator[Path]:
    """A fresh path the marker task will create, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-") as folder:
        yield Path(folder) / uuid.uuid4().hex


def wait_for(marker: Path) -> None:
    deadline = time.monotonic() + RESULT_TIMEOUT_S
    while not marker.exists():
        if time.monotonic() > deadline:
            raise BenchError(f"the last task did not run within {RESULT_TIMEOUT_S:.0f} s")
        time.sleep(WAIT_INTERVAL_S)
