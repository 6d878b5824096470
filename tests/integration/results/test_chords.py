"""Chords: the body runs exactly once when header tasks finish concurrently in two pools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import chord
from celery.result import GroupResult
from kombu import Connection
from psycopg import sql

from ops.supervisor import Supervisor
from results.tables import CHORD, CHORD_PART, TASK_RESULT
from routing.declaration import TOPOLOGY
from tests.integration.results.helpers import DEADLINE_S, start_default_pool

HEADER = 1_000
CHORDS = 2  # run at once, so their completions interleave too

Db = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def two_worker_groups(broker: Connection, tmp_path: Path) -> Iterator[Supervisor]:
    """Two worker groups of the `default` pool, as two replicas would run."""
    supervisor = Supervisor(tmp_path / "logs")
    start_default_pool(supervisor, "a")
    start_default_pool(supervisor, "b")
    yield supervisor
    supervisor.stop(timeout=30)


def test_chord_body_runs_exactly_once(
    two_worker_groups: Supervisor, broker: Connection, db: Db, tmp_path: Path
) -> None:
    from tests.tasks.probes import echo, record_run

    logs = [tmp_path / f"body-{n}.log" for n in range(CHORDS)]
    bodies = [chord(echo.s(i) for i in range(HEADER))(record_run.s(str(log))) for log in logs]
    assert [body.get(timeout=DEADLINE_S * 3) for body in bodies] == [HEADER] * CHORDS

    # Stopped warmly, the workers finish what they run and hand back what they prefetched:
    # a second body sent by a double count would now be in a log or in the queue.
    assert all("stopped" in line for line in two_worker_groups.stop(timeout=60))
    channel: Any = broker.channel()
    _, left_in_queue, _ = channel.queue_declare(queue=TOPOLOGY.default_queue, passive=True)
    channel.close()
    assert left_in_queue == 0
    assert [log.read_text().count("ran\n") for log in logs] == [1] * CHORDS

    headers = [body.parent for body in bodies]
    assert all(isinstance(header, GroupResult) for header in headers)
    group_ids = [header.id for header in headers if isinstance(header, GroupResult)]
    counters = db.execute(
        sql.SQL("SELECT done, size, fired_at IS NOT NULL FROM {} WHERE group_id = ANY(%s)").format(
            sql.Identifier(CHORD)
        ),
        (group_ids,),
    ).fetchall()
    assert counters == [(HEADER, HEADER, True)] * CHORDS
    assert db.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE group_id = ANY(%s)").format(
            sql.Identifier(CHORD_PART)
        ),
        (group_ids,),
    ).fetchone() == (0,)
    header_ids = [r.id for h in headers if isinstance(h, GroupResult) for r in h.results or ()]
    workers = db.execute(
        sql.SQL(
            "SELECT DISTINCT split_part(worker, '.', 1) FROM {} WHERE task_id = ANY(%s)"
        ).format(sql.Identifier(TASK_RESULT)),
        (header_ids,),
    ).fetchall()
    assert sorted(str(w) for (w,) in workers) == ["default@a", "default@b"]
