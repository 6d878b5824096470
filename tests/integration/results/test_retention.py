"""Retention without beat: only what has expired goes, in bounded batches, from writers."""

from __future__ import annotations

import psycopg
from celery import states
from celery.utils import uuid
from psycopg import sql

from config.app import app
from results.backend import SwitchyardBackend
from results.retention import Retention
from results.tables import CHORD, GROUP_RESULT, TASK_RESULT

Db = psycopg.Connection[tuple[object, ...]]
EXPIRES_S = 3600.0


def _age(db: Db, table: str, key: str, ids: list[str], seconds: float) -> None:
    """Make rows look last written `seconds` ago (the runtime role may update rows)."""
    db.execute(
        sql.SQL(
            "UPDATE {} SET updated_at = now() - make_interval(secs => %s) WHERE {} = ANY(%s)"
        ).format(sql.Identifier(table), sql.Identifier(key)),
        (seconds, ids),
    )


def _present(db: Db, table: str, key: str, ids: list[str]) -> set[str]:
    rows = db.execute(
        sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(
            sql.Identifier(key), sql.Identifier(table), sql.Identifier(key)
        ),
        (ids,),
    ).fetchall()
    return {str(key_value) for (key_value,) in rows}


def _expire_everything_else(db: Db) -> None:
    """Rows other tests left behind must not count against the batch sizes here."""
    for table in (TASK_RESULT, GROUP_RESULT, CHORD):
        db.execute(
            sql.SQL("UPDATE {} SET updated_at = now() WHERE updated_at < now()").format(
                sql.Identifier(table)
            )
        )


def test_only_expired_rows_are_removed(backend: SwitchyardBackend, db: Db) -> None:
    _expire_everything_else(db)
    old, fresh = uuid(), uuid()
    for task_id in (old, fresh):
        backend.store_result(task_id, {"kept": task_id == fresh}, states.SUCCESS)
        app.GroupResult(task_id, [app.AsyncResult(task_id)]).save(backend=backend)
        backend.set_chord_size(task_id, 3)
    for table, key in ((TASK_RESULT, "task_id"), (GROUP_RESULT, "group_id"), (CHORD, "group_id")):
        _age(db, table, key, [old], EXPIRES_S + 60)
        _age(db, table, key, [fresh], EXPIRES_S - 60)

    with backend.pool.connection() as conn:
        deleted = Retention(EXPIRES_S).run(conn)

    assert deleted[TASK_RESULT] == deleted[GROUP_RESULT] == deleted[CHORD] == 1
    for table, key in ((TASK_RESULT, "task_id"), (GROUP_RESULT, "group_id"), (CHORD, "group_id")):
        assert _present(db, table, key, [old, fresh]) == {fresh}, table


def test_a_batch_is_bounded_and_a_full_one_brings_the_next_forward(
    backend: SwitchyardBackend, db: Db
) -> None:
    _expire_everything_else(db)
    ids = [uuid() for _ in range(25)]
    for task_id in ids:
        backend.store_result(task_id, None, states.SUCCESS)
    _age(db, TASK_RESULT, "task_id", ids, EXPIRES_S + 60)
    retention = Retention(EXPIRES_S, batch_size=10, interval_s=3600, backlog_interval_s=0)

    with backend.pool.connection() as conn:
        assert retention.run(conn)[TASK_RESULT] == 10
        assert retention.due()  # a full batch: the rest is due at once, not in an hour
        assert retention.run(conn)[TASK_RESULT] == 10
        assert retention.run(conn)[TASK_RESULT] == 5
    assert not retention.due()
    assert _present(db, TASK_RESULT, "task_id", ids) == set()


def test_a_write_deletes_expired_rows_when_a_batch_is_due(
    backend: SwitchyardBackend, db: Db
) -> None:
    writer = SwitchyardBackend(app=app, url=backend.url)
    writer.retention = Retention(EXPIRES_S, interval_s=0)
    old = uuid()
    writer.store_result(old, "old", states.SUCCESS)
    _age(db, TASK_RESULT, "task_id", [old], EXPIRES_S + 60)

    new = uuid()
    writer.store_result(new, "new", states.SUCCESS)

    assert _present(db, TASK_RESULT, "task_id", [old, new]) == {new}
    writer.pool.close()
