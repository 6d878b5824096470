"""The fault suite's task: some work, then one side effect recorded in the ledger.

Not a production task: `switchyard chaos` starts its workers with this module in
`SWITCHYARD_EXTRA_TASK_MODULES`.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from config.app import app
from config.settings import get_settings
from ops.chaos import ledger


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
    """Record one side effect; a redelivered or retried copy finds it recorded and applies
    nothing."""
    time.sleep(work_s)
    return ledger.record(get_settings().database_url, run_id, key, str(self.request.id))
