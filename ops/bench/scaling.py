"""`switchyard bench scaling`: what a task costs as the work grows.

Drains of a queued backlog by the `default` pool's inline workers: 1, 2 and 4 workers with
1 KiB bodies, then 1 KiB, 64 KiB and just under the queue's size limit (1 MiB) with the
pool's declared worker count. Per row: tasks per second, and CPU per task of the workers
and of the broker, read from /proc from the first delivery to the last task; and the total
CPU per task as a ratio to the first row's. Rows take turns within each repetition.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery

from ops.bench.clients import bulk
from ops.bench.memory import tree_cpu_seconds
from ops.bench.model import Configuration
from ops.bench.results_suite import BACKEND_ENV
from ops.bench.runner import make_client
from ops.bench.tasks import sink
from ops.bench.workers import BenchError, client_app
from ops.bench.workloads import FirstDelivery, end_marker, wait_for
from ops.progress import ProgressDisplay
from routing.declaration import TOPOLOGY

KIB = 1024
POOL = "default"
# Bytes of bodies queued per row at most: a 1 MiB row drains fewer tasks, not 2 GiB.
MAX_BACKLOG_BYTES = 128 * 1024 * KIB
# Room for the envelope (headers, JSON) under the queue's publish-time size limit.
ENVELOPE_BYTES = 4 * KIB


@dataclass(frozen=True)
class Row:
    workers: int
    body_bytes: int

    @property
    def name(self) -> str:
        return f"{self.workers} worker{'s' * (self.workers > 1)}, {_size(self.body_bytes)} body"


@dataclass(frozen=True)
class Sample:
    tasks_per_s: float
    worker_cpu_ms: float
    broker_cpu_ms: float

    @property
    def total_cpu_ms(self) -> float:
        return self.worker_cpu_ms + self.broker_cpu_ms


def rows() -> list[Row]:
    """The workers axis at 1 KiB, then the body axis at the pool's declared worker count."""
    largest = TOPOLOGY.queue(TOPOLOGY.default_queue).max_message_bytes - ENVELOPE_BYTES
    replicas = TOPOLOGY.pool(POOL).replicas
    grid = [Row(n, KIB) for n in (1, 2, 4)]
    grid += [Row(replicas, size) for size in (KIB, 64 * KIB, largest)]
    return list(dict.fromkeys(grid))  # the pool's count at 1 KiB is already on the first axis


def tasks_for(row: Row, tasks: int) -> int:
    return max(1, min(tasks, MAX_BACKLOG_BYTES // row.body_bytes))


def run_scaling(
    tasks: int, repeat: int, broker_pid: int | None, display: ProgressDisplay
) -> dict[Row, list[Sample]]:
    samples: dict[Row, list[Sample]] = {row: [] for row in rows()}
    order = list(samples)
    for attempt in range(repeat):
        shift = attempt % len(order)
        for row in order[shift:] + order[:shift]:
            display.step(f"{row.name} {attempt + 1}/{repeat}")
            sample = drain_row(row, tasks_for(row, tasks), broker_pid, display)
            samples[row].append(sample)
            display(f"{sample.tasks_per_s:,.0f} tasks/s, {sample.total_cpu_ms:.2f} ms CPU/task")
            display.advance()
    return samples


def drain_row(row: Row, tasks: int, broker_pid: int | None, display: Any) -> Sample:
    """Queue `tasks` bodies of the row's size, start its workers, measure the drain."""
    configuration = Configuration(
        f"scaling-{row.workers}", {BACKEND_ENV: "switchyard"}, replicas=row.workers
    )
    app = client_app(configuration)
    client = make_client(configuration, POOL)
    try:
        _queue(app, tasks, row.body_bytes)
        pids: list[int] = []
        with end_marker() as marker:
            client.send_marker(str(marker))
            display(f"{tasks:,} queued; starting {row.workers} worker(s)")
            with (
                FirstDelivery(
                    client.queue, tasks + 1, on_first=lambda: _cpu(pids, broker_pid)
                ) as first,
                client.start_workers(True) as started,
            ):
                pids += started
                wait_for(marker)
                done, cpu = time.perf_counter(), _cpu(pids, broker_pid)
    finally:
        client.close()
    if first.at is None or first.cpu is None:
        raise BenchError(f"{client.queue}: the drain ended before a delivery was seen")
    elapsed = done - first.at
    per_task = 1000 / (tasks + 1)
    return Sample(
        (tasks + 1) / elapsed,
        (cpu[0] - first.cpu[0]) * per_task,
        (cpu[1] - first.cpu[1]) * per_task,
    )


def _queue(app: Celery, tasks: int, body_bytes: int) -> None:
    payload = "x" * body_bytes
    signature = app.signature(sink.name, args=(payload,)).set(ignore_result=True)  # type: ignore[call-arg]
    bulk(app, [signature.clone() for _ in range(tasks)])


def _cpu(pids: list[int], broker_pid: int | None) -> tuple[float, float]:
    workers = sum(tree_cpu_seconds(pid) for pid in pids)
    return workers, tree_cpu_seconds(broker_pid) if broker_pid else 0.0


def medians(samples: dict[Row, list[Sample]]) -> dict[Row, Sample]:
    return {
        row: Sample(
            statistics.median(s.tasks_per_s for s in runs),
            statistics.median(s.worker_cpu_ms for s in runs),
            statistics.median(s.broker_cpu_ms for s in runs),
        )
        for row, runs in samples.items()
        if runs
    }


def as_dict(samples: dict[Row, list[Sample]]) -> list[dict[str, Any]]:
    return [
        {
            "workers": row.workers,
            "body_bytes": row.body_bytes,
            "tasks_per_s": m.tasks_per_s,
            "worker_cpu_ms_per_task": m.worker_cpu_ms,
            "broker_cpu_ms_per_task": m.broker_cpu_ms,
            "runs": [vars(s) for s in samples[row]],
        }
        for row, m in medians(samples).items()
    ]


def table(samples: dict[Row, list[Sample]]) -> list[str]:
    """Medians per row, and the total CPU per task as a ratio to the first row's."""
    by_row = medians(samples)
    first = next(iter(by_row.values()))
    header = ["row", "tasks/s", "worker CPU ms/task", "broker CPU ms/task", "total", "cost x"]
    lines = [header]
    for row, m in by_row.items():
        lines.append(
            [
                row.name,
                f"{m.tasks_per_s:,.0f}",
                f"{m.worker_cpu_ms:.3f}",
                f"{m.broker_cpu_ms:.3f}",
                f"{m.total_cpu_ms:.3f}",
                f"{m.total_cpu_ms / first.total_cpu_ms:.2f}x" if first.total_cpu_ms else "-",
            ]
        )
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines]


def _size(size: int) -> str:
    if size >= 1024 * KIB - ENVELOPE_BYTES:
        return f"{size / KIB:,.0f} KiB (limit)"
    return f"{size // KIB} KiB"
