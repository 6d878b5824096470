"""Nightly database maintenance, sent by beat."""

from __future__ import annotations

from typing import Any

import psycopg

from config.app import app
from config.settings import get_settings
from results.retention import delete_expired_batch

BATCH = 5000
_STOCK_DELETE = (
    "DELETE FROM celery_taskmeta WHERE id IN (SELECT id FROM celery_taskmeta "
    "WHERE date_done < now() - make_interval(secs => %s) LIMIT %s)"
)


@app.task
def execute_db_maintenance() -> dict[str, Any]:
    """Sweep every expired result, in bounded batches; safe to run twice.

    Workers already delete expired results a batch at a time as they write; this sweep
    catches up after quiet periods, and covers the stock backend's table too. Batches keep
    each transaction short, so no result table is locked for long.
    """
    expires = app.conf.result_expires
    expires_s = int(expires.total_seconds() if hasattr(expires, "total_seconds") else expires)
    deleted: dict[str, int] = {}
    with psycopg.connect(get_settings().database_url, autocommit=True) as conn:
        while True:
            batch = delete_expired_batch(conn, expires_s, BATCH)
            batch["celery_taskmeta"] = conn.execute(_STOCK_DELETE, (expires_s, BATCH)).rowcount
            for table, count in batch.items():
                deleted[table] = deleted.get(table, 0) + count
            if all(count < BATCH for count in batch.values()):
                break
    return {"deleted": deleted, "older_than_s": expires_s}
