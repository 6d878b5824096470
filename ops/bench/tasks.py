"""The benchmark's tasks: a no-op, an end marker, a sink for large bodies, a chord's parts.

Not production tasks: `switchyard bench` starts its workers with this module in
`SWITCHYARD_EXTRA_TASK_MODULES`, and the stock baseline app imports it, so both sides run
the very same function under the same name. They run on the default queue like any small
task, so what they measure is the path a real task takes: broker, worker, result backend.
"""

from __future__ import annotations

import time
from pathlib import Path

from config.app import app


@app.task
def noop() -> None:
    """Nothing: what remains is the cost of sending, running and storing a task."""


@app.task
def finished_at() -> float:
    """A chord header task: the wall-clock time it finished (one machine, one clock)."""
    return time.time()


@app.task
def delay_since_last(finish_times: list[float]) -> float:
    """A chord body: seconds from the last header task's finish to this body's start."""
    return time.time() - max(finish_times)


@app.task
def mark(path: str) -> None:
    """The last task of a run: creates `path`, which the benchmark waits for.

    A file rather than a stored result, so that every peer (Dramatiq has no result backend
    here) signals the end the same way.
    """
    Path(path).touch()


@app.task
def sink(payload: str) -> None:
    """Receives a body of a given size and drops it: the cost of moving bytes."""
