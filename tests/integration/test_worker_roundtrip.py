"""A worker started with a pool's real command line runs a task; the result is in PostgreSQL."""

from __future__ import annotations

import psycopg
from kombu import Connection

from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv


def test_task_result_is_stored_in_postgresql(
    broker: Connection, db: psycopg.Connection[tuple[object, ...]], supervisor: Supervisor
) -> None:
    from tasks.demo import add

    supervisor.start("worker-default", worker_argv(TOPOLOGY.pool("default")))
    result = add.delay(20, 22)
    assert result.get(timeout=60) == 42
    row = db.execute(
        "SELECT status FROM celery_taskmeta WHERE task_id = %s", (result.id,)
    ).fetchone()
    assert row == ("SUCCESS",)
