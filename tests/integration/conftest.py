"""Real services for the integration tier, started by the same code as `switchyard stack up`.

Outside CI a machine without the services skips this tier with the reason; under CI=true
a service that cannot start fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kombu import Connection

from config.settings import EXTRA_TASK_MODULES_ENV, Settings, get_settings
from ops.broker import consumer_counts
from ops.broker_users import pool_worker_env
from ops.fake_services import FakeServices
from ops.stack.accounts import StackError
from ops.stack.manager import Stack
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from results.migration import migrate
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.entities import broker_entities
from routing.worker_command import worker_argv
from tests.tasks import TEST_TASK_MODULES

_STACK_PROBLEM: list[str] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    """Bring the stack up before collection: collecting a module that imports a task binds
    the task to the app, which reads the settings once, so they must exist by then.

    Every worker a test starts inherits the test-only task modules (the production app
    registers none of them).
    """
    os.environ[EXTRA_TASK_MODULES_ENV] = ",".join(TEST_TASK_MODULES)
    try:
        Stack().up()
    except StackError as exc:
        if os.environ.get("CI") == "true":
            pytest.exit(f"the stack did not start under CI: {exc}", returncode=1)
        _STACK_PROBLEM.append(str(exc))
        return
    get_settings.cache_clear()
    migrate(get_settings().migration_database_url)


@pytest.fixture(scope="session")
def stack() -> Stack:
    if _STACK_PROBLEM:
        pytest.skip(f"no local stack: {_STACK_PROBLEM[0]}")
    return Stack()


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    return get_settings()


@pytest.fixture
def broker(settings: Settings) -> Iterator[Connection]:
    """A connection with the topology declared and every queue of it purged."""
    with Connection(settings.broker_url) as conn:
        declare_topology(conn, TOPOLOGY)
        channel: Any = conn.channel()
        for queue in broker_entities(TOPOLOGY).all_queues:
            queue.bind(channel).purge()
        channel.close()
        yield conn


@pytest.fixture
def db(settings: Settings) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    """Worker processes for one test, stopped warmly after it."""
    sup = Supervisor(tmp_path / "logs")
    yield sup
    sup.stop(timeout=30)


@pytest.fixture
def amqp(broker: Connection, settings: Settings) -> Iterator[Any]:
    """A pika channel, independent of Celery and kombu, to check what the broker holds."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    channel = conn.channel()
    yield channel
    if conn.is_open:
        conn.close()


@pytest.fixture
def fake_services() -> Iterator[FakeServices]:
    services = FakeServices().start()
    yield services
    services.stop()


def start_pool(supervisor: Supervisor, pool: str, env: dict[str, str] | None = None) -> None:
    """Start one declared pool with its real command line and wait until it consumes."""
    spec = TOPOLOGY.pool(pool)
    supervisor.start(f"worker-{pool}", worker_argv(spec), {**pool_worker_env(pool), **(env or {})})
    with Connection(get_settings().broker_url) as conn:
        ok = wait_until(
            lambda: (
                bool(supervisor.dead())
                or min(consumer_counts(conn, list(spec.queues)).values()) > 0
            ),
            60,
        )
    assert ok, f"pool {pool} did not start consuming"
    assert not supervisor.dead(), f"pool {pool} exited: see {supervisor.processes[-1].log}"


def queue_depth(channel: Any, queue: str) -> int:
    """Messages ready in `queue`, as the broker counts them (a passive declare with pika)."""
    return int(channel.queue_declare(queue=queue, passive=True).method.message_count)
