"""The inline pool against the real broker: heartbeats kept while a task holds the worker's
thread, and time limits enforced on the `default` pool's real workers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery import states
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from kombu import Connection

from config.celery_defaults import HEARTBEAT_S as HEARTBEAT_S_WORKER
from config.settings import Settings
from execution.guard import TaskGuard, connection_parts
from ops.supervisor import Supervisor
from routing.management_api import ManagementAPI
from tests.integration.conftest import start_pool
from tests.integration.management_stats import stat
from tests.integration.metrics_support import poll
from tests.tasks.faults import outstay_soft_limit
from tests.tasks.probes import echo

HEARTBEAT_S = 2
SILENT_S = 4 * HEARTBEAT_S  # the broker drops a peer silent for two heartbeats


def _hold_thread(connection: Connection, guard: TaskGuard | None) -> None:
    """Keep this thread busy, as a long inline task does, without touching the connection."""
    if guard is None:
        time.sleep(SILENT_S)
        return
    guard.watch(*connection_parts(connection))
    with guard.running("long", None, None):
        time.sleep(SILENT_S)


def _connection_works(connection: Connection) -> bool:
    errors: tuple[type[BaseException], ...] = (
        OSError,
        *connection.connection_errors,
        *connection.channel_errors,
    )
    try:
        connection.connection.heartbeat_tick()
        channel: Any = connection.channel()
        channel.exchange_declare("amq.direct", "direct", passive=True)
        channel.close()
    except errors:
        return False
    return True


@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "guarded"])
def test_the_guard_keeps_the_connection_through_a_long_task(
    broker: Connection, settings: Settings, guarded: bool
) -> None:
    guard = TaskGuard() if guarded else None
    if guard is not None:
        guard.start()
    try:
        with Connection(settings.broker_url, heartbeat=HEARTBEAT_S) as connection:
            connection.connect()
            _hold_thread(connection, guard)
            # Without the guard the broker closed the connection: the check shows the test
            # can tell the difference.
            assert _connection_works(connection) is guarded
    finally:
        if guard is not None:
            guard.stop()


def test_time_limits_stop_inline_tasks_and_the_worker_goes_on(
    broker: Connection, supervisor: Supervisor
) -> None:
    start_pool(supervisor, "default")
    soft = echo.apply_async(("slow",), {"pause_s": 30}, soft_time_limit=1, time_limit=3)
    hard = outstay_soft_limit.apply_async((30,), soft_time_limit=1, time_limit=2)
    with pytest.raises(SoftTimeLimitExceeded):
        soft.get(timeout=20)
    with pytest.raises(TimeLimitExceeded):
        hard.get(timeout=20)
    assert hard.state == states.FAILURE
    assert echo.delay("after").get(timeout=20) == "after"
    assert all(p.alive for p in supervisor.processes), "an inline worker exited"


def _consuming_connections(settings: Settings) -> set[str]:
    """Names (peer address and port) of the connections consuming the `default` queue.

    A consumer whose channel's statistics have not arrived yet (`channel_details: []`)
    is not counted: callers poll until it is."""
    api = ManagementAPI(settings.broker_api_url)
    consumers = [c for c in api.get("consumers") if stat(c, "queue", "name") == "default"]
    names = {stat(c, "channel_details", "connection_name") for c in consumers}
    return {str(name) for name in names if name is not None}


def test_an_inline_worker_keeps_its_connection_through_a_task_longer_than_two_heartbeats(
    broker: Connection, supervisor: Supervisor, settings: Settings
) -> None:
    """The consumer's connection, which the guard keeps; the worker's other connections (a
    producer's, idle) are dropped by the broker while a long task runs under any pool and
    open again on their next use."""
    start_pool(supervisor, "default")
    # The management API lists a new consumer within its statistics interval.
    before = poll(lambda: _consuming_connections(settings), bool, timeout=30)
    assert len(before) == 1
    # The broker checks once a heartbeat and drops a connection silent for two checks.
    long = 3.5 * HEARTBEAT_S_WORKER
    assert echo.apply_async(("long",), {"pause_s": long}).get(timeout=long + 30) == "long"
    assert echo.delay("next").get(timeout=20) == "next"
    # A new consumer (after a reconnection) is listed without statistics for a while: wait
    # for them before comparing, so that the comparison sees it.
    after = poll(lambda: _consuming_connections(settings), bool, timeout=30)
    assert after == before, "the broker dropped the consumer"
