"""Nightly database maintenance, sent by beat."""

from __future__ import annotations

from typing import Any

import psycopg

from config.app import app
from config.settings import get_settings

BATCH = 5000


@app.task
def execute_db_maintenance() -> dict[str, Any]:
    """Delete expired task results in bounded batches; safe to run twice.

    Batches keep each transaction short, so the result table is never locked for long.
    """
    expires_s = int(
        app.conf.result_expires.total_seconds()
        if hasattr(app.conf.result_expires, "total_seconds")
        else app.conf.result_expires
    )
    deleted = 0
    with psycopg.connect(get_settings().database_url, autocommit=True) as conn:
        while True:
            cur = conn.execute(
                "DELETE FROM celery_taskmeta WHERE id IN (SELECT id FROM celery_taskmeta "
                "WHERE date_done < now() - make_interval(secs => %s) LIMIT %s)",
                (expires_s, BATCH),
            )
            deleted += cur.rowcount
            if cur.rowcount < BATCH:
                break
    return {"deleted": deleted, "older_than_s": expires_s}
