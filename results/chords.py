"""The chord counter: header completions counted in one row, the body sent exactly once.

Stock Celery joins a chord on the database backend with `chord_unlock`, a task that polls
the header's results every second for as long as the chord runs. Here every header task,
as it finishes, records its result as a part and adds one to the chord's `done` in the same
statement; the row lock makes the additions atomic, so exactly one of them takes `done` to
`size`, and that one sends the body. A task id counts once, however often a redelivery runs
it.

Celery announces the size only just before publishing the header's last task, so parts that
finish earlier count while `size` is still NULL, and the last part always sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from results.connections import Connection, statement
from results.tables import CHORD, CHORD_PART

_C = sql.Identifier(CHORD)
_P = sql.Identifier(CHORD_PART)

# A re-applied chord reuses its group id but is a new run: start from zero.
BEGIN = statement(
    "WITH cleared AS (DELETE FROM {p} WHERE group_id = %(group_id)s) "
    "INSERT INTO {c} (group_id, size, done, fired_at) VALUES (%(group_id)s, NULL, 0, NULL) "
    "ON CONFLICT (group_id) DO UPDATE SET size = NULL, done = 0, fired_at = NULL, "
    "updated_at = now()",
    c=_C,
    p=_P,
)

SET_SIZE = statement(
    "INSERT INTO {c} (group_id, size) VALUES (%s, %s) "
    "ON CONFLICT (group_id) DO UPDATE SET size = EXCLUDED.size, updated_at = now()",
    c=_C,
)

GROW = statement("UPDATE {c} SET size = size + 1, updated_at = now() WHERE group_id = %s", c=_C)

COUNT_PART = statement(
    "WITH part AS ("
    "INSERT INTO {p} (group_id, task_id, idx, state, result) "
    "VALUES (%(group_id)s, %(task_id)s, %(idx)s, %(state)s, %(result)s::jsonb) "
    "ON CONFLICT DO NOTHING RETURNING 1) "
    "UPDATE {c} SET done = done + (SELECT count(*) FROM part), updated_at = now() "
    "WHERE group_id = %(group_id)s "
    "RETURNING done, size, (SELECT count(*) FROM part)",
    c=_C,
    p=_P,
)

READ_PARTS = statement(
    "SELECT task_id, state, result::text FROM {p} WHERE group_id = %s "
    "ORDER BY idx NULLS LAST, task_id",
    p=_P,
)

FINISH = statement(
    "WITH cleared AS (DELETE FROM {p} WHERE group_id = %(group_id)s) "
    "UPDATE {c} SET fired_at = now(), updated_at = now() WHERE group_id = %(group_id)s",
    c=_C,
    p=_P,
)


@dataclass(frozen=True)
class Count:
    """The counter after one header completion."""

    done: int
    size: int | None
    counted: bool  # False for a task id already counted (a redelivered duplicate)

    @property
    def completes(self) -> bool:
        """True for exactly one completion of the chord: the one that sends the body."""
        return self.counted and self.size is not None and self.done == self.size


@dataclass(frozen=True)
class Part:
    task_id: str
    state: str
    result: str | None  # JSON text


def begin(conn: Connection, group_id: str) -> None:
    conn.execute(BEGIN, {"group_id": group_id})


def set_size(conn: Connection, group_id: str, size: int) -> None:
    conn.execute(SET_SIZE, (group_id, size))


def grow(conn: Connection, group_id: str) -> None:
    """One more header task (`Task.add_to_chord`)."""
    conn.execute(GROW, (group_id,))


def count_part(
    conn: Connection, *, group_id: str, task_id: str, idx: int | None, state: str, result: str
) -> Count | None:
    """Record one header result and count it; None when the chord has no counter row."""
    row = conn.execute(
        COUNT_PART,
        {"group_id": group_id, "task_id": task_id, "idx": idx, "state": state, "result": result},
    ).fetchone()
    if row is None:
        return None
    done, size, counted = row
    return Count(done=int(done), size=None if size is None else int(size), counted=counted > 0)


def read_parts(conn: Connection, group_id: str) -> list[Part]:
    """The header results in header order."""
    return [Part(*row) for row in conn.execute(READ_PARTS, (group_id,)).fetchall()]


def finish(conn: Connection, group_id: str) -> None:
    """The body is sent: drop the parts, keep the counter so late duplicates count nothing."""
    conn.execute(FINISH, {"group_id": group_id})
