"""Tasks that misbehave on purpose, for the tests of bad input and of time limits."""

from __future__ import annotations

import os
import signal
import time

from celery.exceptions import SoftTimeLimitExceeded

from config.app import app


@app.task
def kill_own_worker_process() -> None:
    """SIGKILL the process running this task, as an OOM kill would."""
    os.kill(os.getpid(), signal.SIGKILL)


@app.task
def outstay_soft_limit(pause_s: float) -> str:
    """Catch the soft time limit and keep going, as a careless task does; only the hard
    limit stops it."""
    try:
        time.sleep(pause_s)
    except SoftTimeLimitExceeded:
        time.sleep(pause_s)
    return "finished"
