"""A worker's state changes are visible as they happen, one row per task, JSON only."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from celery import states
from celery.utils import uuid
from kombu import Connection
from psycopg import sql

from config.app import app
from ops.supervisor import Supervisor
from results.backend import SwitchyardBackend
from results.codec import ResultEncodeError
from results.tables import TASK_RESULT
from routing.declaration import TOPOLOGY
from tests.integration.conftest import start_pool
from tests.integration.results.helpers import DEADLINE_S

Db = psycopg.Connection[tuple[object, ...]]
ROW = sql.SQL(
    "SELECT state, result, traceback, name, queue, worker, retries, date_done "
    "FROM {} WHERE task_id = %s"
).format(sql.Identifier(TASK_RESULT))


def _row(db: Db, task_id: str) -> tuple[object, ...]:
    row = db.execute(ROW, (task_id,)).fetchone()
    assert row is not None, f"no row for {task_id}"
    return row


def _states_until(backend: SwitchyardBackend, task_id: str, final: str) -> list[str]:
    """Every distinct state seen while polling the row, up to `final`."""
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    while not seen or seen[-1] != final:
        state = backend.get_task_meta(task_id, cache=False)["status"]
        if not seen or seen[-1] != state:
            seen.append(state)
        assert time.monotonic() < deadline, f"{task_id} stuck after {seen}"
        time.sleep(0.005)
    return seen


@pytest.mark.parametrize("pool_name", ["analytics", "default"])
@pytest.mark.usefixtures("broker", "default_worker")
def test_pending_started_retry_success_are_visible(
    pool_name: str,
    backend: SwitchyardBackend,
    db: Db,
    tmp_path: Path,
) -> None:
    """STARTED shows in a pool declared with `track_started` (analytics); the `default`
    pool, declared without it, goes from PENDING to RETRY and SUCCESS. (The retry runs in
    the `default` pool only: a retry is published by the task's route, and the analytics
    pool's broker user may not publish there.)"""
    from tests.tasks.probes import gated

    pool = TOPOLOGY.pool(pool_name)
    queue = pool.queues[0]
    supervisor = Supervisor(tmp_path / "logs")
    try:
        if pool_name != "default":  # the module's fixture runs the default pool
            start_pool(supervisor, pool_name)
        gate = tmp_path / "gate"
        task_id = uuid()
        assert app.AsyncResult(task_id).state == states.PENDING
        retries = 0 if pool.track_started else 1
        gated.apply_async((str(gate), retries), task_id=task_id, queue=queue)
        first = _states_until(backend, task_id, states.STARTED) if pool.track_started else []
        gate.touch()
        rest = _states_until(backend, task_id, states.SUCCESS)
    finally:
        supervisor.stop(timeout=30)

    seen = first + rest
    assert seen[0] in (states.PENDING, states.STARTED)
    expected: list[str] = [states.STARTED] if pool.track_started else []
    expected += [states.RETRY] * retries + [states.SUCCESS]
    changes = [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]
    assert [s for s in changes if s != states.PENDING] == expected, seen
    state, result, _, name, row_queue, worker, row_retries, date_done = _row(db, task_id)
    assert (state, result, name, row_queue, row_retries) == (
        states.SUCCESS,
        "done",
        "tests.tasks.probes.gated",
        queue,
        retries,
    )
    assert str(worker).startswith(f"{pool_name}@")
    assert date_done is not None


def test_failure_is_stored_with_its_exception_and_traceback(
    broker: Connection, default_worker: Supervisor, db: Db
) -> None:
    from tests.tasks.probes import fail

    result = fail.delay("boom")
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=DEADLINE_S)
    state, stored, traceback, *_ = _row(db, result.id)
    assert state == states.FAILURE
    assert stored == {"exc_type": "ValueError", "exc_message": ["boom"], "exc_module": "builtins"}
    assert "ValueError: boom" in str(traceback)


def test_result_json_cannot_encode_is_a_clear_failure_never_pickle(
    broker: Connection, default_worker: Supervisor, db: Db
) -> None:
    from tests.tasks.probes import not_json

    result = not_json.delay()
    with pytest.raises(ResultEncodeError, match=r"not JSON-serializable.*set"):
        result.get(timeout=DEADLINE_S)
    state, stored, *_ = _row(db, result.id)
    assert state == states.FAILURE
    assert isinstance(stored, dict)
    assert stored["exc_type"] == "ResultEncodeError"
    assert stored["exc_module"] == "results.codec"
    # jsonb cannot hold a pickle, and the stock table, which would, never saw the task.
    assert db.execute(
        sql.SQL("SELECT jsonb_typeof(result) FROM {} WHERE task_id = %s").format(
            sql.Identifier(TASK_RESULT)
        ),
        (result.id,),
    ).fetchone() == ("object",)
    assert db.execute(
        "SELECT count(*) FROM celery_taskmeta WHERE task_id = %s", (result.id,)
    ).fetchone() == (0,)


def test_group_get_and_join_return_every_result_in_order(
    broker: Connection, default_worker: Supervisor
) -> None:
    from celery import group
    from celery.result import GroupResult

    from tests.tasks.probes import echo

    values = list(range(20))
    grouped = group(echo.s(v) for v in values).apply_async()
    assert isinstance(grouped, GroupResult)
    assert grouped.get(timeout=DEADLINE_S) == values
    assert grouped.join(timeout=DEADLINE_S) == values

    grouped.save()
    restored = GroupResult.restore(grouped.id, app=app)
    assert restored is not None
    assert restored.get(timeout=DEADLINE_S) == values
    grouped.delete()
    assert GroupResult.restore(grouped.id, app=app) is None


def test_forget_deletes_the_row(
    broker: Connection, default_worker: Supervisor, backend: SwitchyardBackend
) -> None:
    from tests.tasks.probes import echo

    result = echo.delay("gone soon")
    assert result.get(timeout=DEADLINE_S) == "gone soon"
    result.forget()
    assert backend.get_task_meta(result.id, cache=False)["status"] == states.PENDING
