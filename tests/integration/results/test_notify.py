"""Waiters sleep until NOTIFY wakes them; a dropped listening connection falls back to a poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from celery import states
from celery.utils import uuid

from config.app import app
from results.backend import SwitchyardBackend
from results.listener import APPLICATION_NAME
from tests.integration.results.conftest import wait_for

# Well under Celery's 0.5 s poll step and the 1 s fallback poll: only a notification
# explains a waiter that returns this soon after the write.
WOKEN_WITHIN_S = 0.4
WAIT_TIMEOUT_S = 20.0

Wait = Callable[[list[str]], object]


def _get(ids: list[str]) -> object:
    return app.AsyncResult(ids[0]).get(timeout=WAIT_TIMEOUT_S)


def _group_get(ids: list[str]) -> object:
    return app.GroupResult(uuid(), [app.AsyncResult(i) for i in ids]).get(timeout=WAIT_TIMEOUT_S)


def _join(ids: list[str]) -> object:
    return app.ResultSet([app.AsyncResult(i) for i in ids]).join(timeout=WAIT_TIMEOUT_S)


def _blocked_waiter(wait: Wait, ids: list[str]) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = wait(ids)
        except Exception as exc:
            outcome["error"] = exc
        outcome["returned_at"] = time.perf_counter()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize("wait", [_get, _group_get, _join], ids=["get", "group-get", "join"])
def test_blocked_waiter_wakes_on_notify(backend: SwitchyardBackend, wait: Wait) -> None:
    ids = [uuid() for _ in range(3)]
    thread, outcome = _blocked_waiter(wait, ids)
    listener = backend.listener()
    wait_for(lambda: listener.connected and listener.watching(ids[0]))
    assert thread.is_alive(), outcome

    for task_id in ids:
        backend.store_result(task_id, task_id, states.SUCCESS)
    written_at = time.perf_counter()
    thread.join(WAIT_TIMEOUT_S)

    assert "error" not in outcome, outcome
    assert outcome["value"] in (ids[0], ids)
    woken_after = float(outcome["returned_at"]) - written_at  # type: ignore[arg-type]
    assert woken_after < WOKEN_WITHIN_S


def test_waiter_survives_a_dropped_listening_connection(
    backend: SwitchyardBackend, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    task_id = uuid()
    thread, outcome = _blocked_waiter(_get, [task_id])
    listener = backend.listener()
    wait_for(lambda: listener.connected and listener.watching(task_id))

    dropped = db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (APPLICATION_NAME,),
    ).fetchall()
    assert dropped
    backend.store_result(task_id, "after the drop", states.SUCCESS)
    thread.join(WAIT_TIMEOUT_S)

    assert outcome.get("value") == "after the drop", outcome
    wait_for(lambda: listener.connected)  # and the listener is back
