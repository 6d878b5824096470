"""A worker started with a pool's real command line runs a task; the result is in PostgreSQL."""

from __future__ import annotations

import psycopg
from kombu import Connection
from psycopg import sql

from ops.broker_users import pool_worker_env
from ops.supervisor import Supervisor
from results.tables import TASK_RESULT
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv


def test_task_result_is_stored_in_postgresql(
    broker: Connection, db: psycopg.Connection[tuple[object, ...]], supervisor: Supervisor
) -> None:
    from tasks.demo import add

    supervisor.start(
        "worker-default", worker_argv(TOPOLOGY.pool("default")), pool_worker_env("default")
    )
    result = add.delay(20, 22)
    assert result.get(timeout=60) == 42
    row = db.execute(
        sql.SQL("SELECT state, result FROM {} WHERE task_id = %s").format(
            sql.Identifier(TASK_RESULT)
        ),
        (result.id,),
    ).fetchone()
    assert row == ("SUCCESS", 42)
