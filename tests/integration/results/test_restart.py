"""A PostgreSQL restart while workers write loses no SUCCESS row; the worker reconnects."""

from __future__ import annotations

import psycopg
from celery import group, states
from celery.result import GroupResult
from kombu import Connection
from psycopg import sql

from config.settings import Settings
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from results.tables import TASK_RESULT
from tests.integration.results.helpers import DEADLINE_S, wait_for

TASKS = 150
TASK_SECONDS = 0.02  # long enough that the restart lands in the middle of the writes


def _successes(settings: Settings, ids: list[str]) -> int:
    try:
        with psycopg.connect(settings.database_url, connect_timeout=2) as conn:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE task_id = ANY(%s) AND state = %s").format(
                    sql.Identifier(TASK_RESULT)
                ),
                (ids, states.SUCCESS),
            ).fetchone()
    except psycopg.OperationalError:
        return -1
    return int(row[0]) if row else 0


def test_restart_during_writes_loses_no_success(
    stack: Stack, settings: Settings, broker: Connection, default_worker: Supervisor
) -> None:
    from tests.tasks.probes import echo

    assert echo.delay("warm").get(timeout=DEADLINE_S) == "warm"
    sent = group(echo.s(i, pause_s=TASK_SECONDS) for i in range(TASKS)).apply_async()
    assert isinstance(sent, GroupResult)
    ids = [r.id for r in sent.results]
    wait_for(lambda: _successes(settings, ids) >= 10)

    assert _successes(settings, ids) < TASKS  # the restart lands while tasks still write
    stack.postgres.stop()
    stack.postgres.start()

    assert sent.get(timeout=DEADLINE_S * 2) == list(range(TASKS))
    assert _successes(settings, ids) == TASKS
    assert not default_worker.dead()
    assert echo.delay("after").get(timeout=DEADLINE_S) == "after"
