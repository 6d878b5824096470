"""A worker started as in production runs production code only.

The other tests' workers inherit `SWITCHYARD_EXTRA_TASK_MODULES` (see conftest); here it is
emptied, as in a pod, and a test-only task sent to the pool must be refused as unknown.
"""

from __future__ import annotations

from typing import Any

from kombu import Connection

from config.settings import EXTRA_TASK_MODULES_ENV
from deadletter import headers
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from routing.names import dlq_name
from tasks.demo import add
from tests.integration.conftest import start_pool
from tests.tasks.faults import kill_own_worker_process
from tests.tasks.probes import loaded_packages

QUEUE = TOPOLOGY.default_queue


def test_a_production_worker_dead_letters_a_test_task_as_unknown(
    broker: Connection, supervisor: Supervisor, amqp: Any
) -> None:
    """Registered, this task would SIGKILL the worker; unregistered, it is dead-lettered."""
    start_pool(supervisor, "default", env={EXTRA_TASK_MODULES_ENV: ""})
    worker = supervisor.processes[-1]
    poison = kill_own_worker_process.delay()
    assert add.delay(20, 22).get(timeout=60) == 42

    dead: list[dict[str, Any]] = []

    def one_dead_letter() -> bool:
        method, props, _ = amqp.basic_get(dlq_name(QUEUE), auto_ack=True)
        if method is not None:
            dead.append(props.headers or {})
        return bool(dead)

    assert wait_until(one_dead_letter, 60), "the test task was not dead-lettered"
    assert dead[0]["id"] == poison.id
    assert f"no task registered as '{kill_own_worker_process.name}'" in dead[0][headers.REASON]
    assert worker.alive


def test_a_worker_has_not_imported_sqlalchemy(broker: Connection, supervisor: Supervisor) -> None:
    """The default pool runs tasks inline, so the task sees the worker's own modules."""
    start_pool(supervisor, "default")
    assert TOPOLOGY.pool("default").kind == "inline"
    loaded = loaded_packages.delay().get(timeout=60)
    assert "celery" in loaded
    assert "results" in loaded  # the result backend is loaded, not the migration's libraries
    assert "sqlalchemy" not in loaded
    assert "alembic" not in loaded
