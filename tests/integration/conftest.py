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

from config.settings import Settings, get_settings
from ops.stack.accounts import StackError
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from results.schema import migrate
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.entities import broker_entities


@pytest.fixture(scope="session")
def stack() -> Stack:
    local = Stack()
    try:
        local.up()
    except StackError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the stack did not start under CI: {exc}")
        pytest.skip(f"no local stack: {exc}")
    get_settings.cache_clear()
    migrate(get_settings().migration_database_url)
    return local


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
