"""Tasks that misbehave on purpose, for the fault suite and for checking a deployment."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import psycopg
from celery.exceptions import SoftTimeLimitExceeded

from config.app import app
from config.settings import get_settings
from ops.chaos import ledger


@app.task
def kill_own_worker_process() -> None:
    """SIGKILL the process running this task, as an OOM kill would."""
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(
    bind=True,
    ignore_result=True,
    autoretry_for=(psycopg.OperationalError,),
    max_retries=30,
    retry_backoff=True,
    retry_backoff_max=5,
    retry_jitter=True,
)
def apply_effect(self: Any, run_id: str, key: int, work_s: float = 0.0) -> bool:
    """The fault suite's task: some work, then one side effect recorded in the ledger.

    A redelivered or retried copy finds the effect already recorded and applies nothing.
    """
    time.sleep(work_s)
    return ledger.record(get_settings().database_url, run_id, key, str(self.request.id))


@app.task
def outstay_soft_limit(pause_s: float) -> str:
    """Catch the soft time limit and keep going, as a careless task does; only the hard
    limit stops it."""
    try:
        time.sleep(pause_s)
    except SoftTimeLimitExceeded:
        time.sleep(pause_s)
    return "finished"
