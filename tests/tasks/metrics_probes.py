"""Tasks with a known outcome, so the metrics tests can run a workload whose counts are known.

Each outcome a counter distinguishes has one task: success, failure, retries, rejection.
"""

from __future__ import annotations

import time
from typing import Any

from celery.exceptions import Reject

from config.app import app


@app.task
def succeed(value: int) -> int:
    """Return `value`."""
    return value


@app.task
def fail(message: str) -> None:
    """Raise ValueError(message)."""
    raise ValueError(message)


@app.task(bind=True, max_retries=5)
def retry_then_succeed(self: Any, retries: int) -> int:
    """Ask for `retries` immediate retries, then return the number of attempts made."""
    if self.request.retries < retries:
        raise self.retry(countdown=0)
    return int(self.request.retries) + 1


@app.task
def reject() -> None:
    """Reject the message without requeueing it: the broker dead-letters it."""
    raise Reject("rejected by the metrics probe", requeue=False)


@app.task
def hold(seconds: float) -> float:
    """Run for `seconds`, so a test can act while a task is in progress."""
    time.sleep(seconds)
    return seconds
