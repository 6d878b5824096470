"""Tasks that exercise the result backend, for the integration tests.

They run on the default queue like any small task, so what they check is the path a real
task takes: broker, worker, result backend, waiter.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from celery import Task

from config.app import app

GATE_TIMEOUT_S = 60.0


PAUSE_STEP_S = 0.05


@app.task
def echo(value: Any, pause_s: float = 0.0) -> Any:
    """`value`, after `pause_s` seconds, paused in short steps: an exception raised in the
    task's thread (the threads pool's time limits) lands between two steps, as it would in
    a task doing work rather than one long wait."""
    deadline = time.monotonic() + pause_s
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(PAUSE_STEP_S, left))
    return value


@app.task
def not_json() -> set[int]:
    """A result JSON cannot encode; it must be stored as a clear FAILURE, never pickled."""
    return {1, 2, 3}


@app.task
def blob(size: int) -> str:
    """A result of `size` characters from a small call: the stored-result bound's probe."""
    return "z" * size


@app.task
def fail(message: str) -> None:
    raise ValueError(message)


@app.task(bind=True, max_retries=5)
def gated(self: Task[Any, Any], gate: str, retries_wanted: int) -> str:
    """Stay STARTED until the file `gate` exists, then retry `retries_wanted` times."""
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} never opened")
        time.sleep(0.01)
    if self.request.retries < retries_wanted:
        raise self.retry(countdown=1, exc=RuntimeError("not yet"))
    return "done"


@app.task
def mark_then_wait(started: str, gate: str) -> str:
    """Create the file `started`, then wait until the file `gate` exists: a test knows the
    task is running, and decides when it ends."""
    Path(started).touch()
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} never opened")
        time.sleep(0.01)
    return "done"


@app.task(bind=True, max_retries=5)
def retry_at_once(self: Task[Any, Any], times: int) -> int:
    """Retry `times` times with no countdown; the number of retries it took."""
    if self.request.retries < times:
        raise self.retry(countdown=0, exc=RuntimeError("again"))
    return int(self.request.retries)


@app.task
def record_run(results: list[Any], log_path: str) -> int:
    """A chord body that appends one line per run to `log_path`, so runs can be counted."""
    with open(log_path, "a") as log:
        log.write("ran\n")
    return len(results)


@app.task
def loaded_packages() -> list[str]:
    """Top-level packages imported by the process running this task (the worker itself,
    in an inline pool)."""
    return sorted({name.split(".")[0] for name in sys.modules})


@app.task
def spawn(value: Any) -> str:
    """Send `echo(value)` from inside a running task; its id (the message carries this
    task's id as parent)."""
    return str(echo.apply_async((value,)).id)
