"""Rows of the result tables: one statement, so one round trip, per operation.

A state change is a single `INSERT ... ON CONFLICT DO UPDATE` that also sends the NOTIFY
waking waiters (delivered when the statement commits), where the stock backend reads the row,
then inserts or updates it, then commits. The statements are composed once, from the names in
`results.tables` and the fields of `StoredState`, which a test holds equal to the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from celery import states
from psycopg import sql

from results import codec
from results.connections import Connection, statement
from results.tables import GROUP_RESULT, TASK_JSON_COLUMNS, TASK_RESULT

RESULT_CHANNEL = "switchyard_results"
"""The NOTIFY channel of ready states: the payload is the task id, then a newline and the row
as JSON when that fits in a notification, so a waiter needs no query to read it."""
NOTIFY_PAYLOAD_MAX = 7900  # PostgreSQL refuses a payload of 8000 bytes or more

# Kept from the first write that knew them: a later state without a request keeps them.
_STICKY = frozenset(
    {"name", "queue", "worker", "retries", "group_id", "parent_id", "args", "kwargs"}
)


@dataclass(frozen=True)
class StoredState:
    """A task's row as read back, JSON columns decoded."""

    task_id: str
    state: str
    result: Any
    traceback: str | None
    date_done: datetime | None
    name: str | None
    queue: str | None
    worker: str | None
    retries: int | None
    children: Any
    group_id: str | None
    parent_id: str | None
    args: Any
    kwargs: Any


# The columns every state writes (all but `updated_at`), in the table's order.
_WRITTEN = tuple(f.name for f in fields(StoredState))
_JSON = TASK_JSON_COLUMNS


@dataclass(frozen=True)
class StateRow:
    """One state change of a task. JSON columns hold JSON text, already encoded."""

    task_id: str
    state: str
    result: str | None = None
    traceback: str | None = None
    name: str | None = None
    queue: str | None = None
    worker: str | None = None
    retries: int | None = None
    children: str | None = None
    group_id: str | None = None
    parent_id: str | None = None
    args: str | None = None
    kwargs: str | None = None

    def params(self) -> dict[str, Any]:
        values = {k: getattr(self, k) for k in _WRITTEN if k != "date_done"}
        return {**values, "ready": self.state in states.READY_STATES, "channel": RESULT_CHANNEL}


def _value(column: str) -> sql.Composable:
    if column == "date_done":
        return sql.SQL("CASE WHEN %(ready)s THEN now() END")
    if column in _JSON:
        return sql.SQL("{}::jsonb").format(sql.Placeholder(column))
    return sql.Placeholder(column)


def _assignment(column: str) -> sql.Composable:
    name = sql.Identifier(column)
    if column in _STICKY:
        return sql.SQL("{c} = COALESCE(EXCLUDED.{c}, {t}.{c})").format(
            c=name, t=sql.Identifier(TASK_RESULT)
        )
    return sql.SQL("{c} = EXCLUDED.{c}").format(c=name)


_TABLE = sql.Identifier(TASK_RESULT)

# A SUCCESS is final: a late duplicate of the task (redelivered after a lost worker)
# cannot overwrite it, as in Celery's key/value backends.
# A state that is not ready (STARTED, RETRY) commits without waiting for the WAL flush: losing
# one in a database crash costs nothing, as the next state replaces it. A ready state keeps the
# server's durability, so an acknowledged task's result survives a crash.
UPSERT_STATE = statement(
    "WITH durability AS MATERIALIZED (SELECT set_config('synchronous_commit', "
    "CASE WHEN %(ready)s THEN current_setting('synchronous_commit') ELSE 'off' END, true)), "
    "written AS ("
    "INSERT INTO {t} ({columns}, updated_at) SELECT {values}, now() FROM durability "
    "ON CONFLICT (task_id) DO UPDATE SET {assignments}, updated_at = now() "
    "WHERE {t}.state <> {success} RETURNING {columns}) "
    "SELECT pg_notify(%(channel)s, CASE WHEN octet_length(n.row) < {payload_max} "
    "THEN n.task_id || chr(10) || n.row ELSE n.task_id END) "
    "FROM (SELECT w.task_id, to_jsonb(w)::text AS row FROM written w) n WHERE %(ready)s",
    t=_TABLE,
    payload_max=sql.Literal(NOTIFY_PAYLOAD_MAX),
    columns=sql.SQL(", ").join(sql.Identifier(c) for c in _WRITTEN),
    values=sql.SQL(", ").join(_value(c) for c in _WRITTEN),
    assignments=sql.SQL(", ").join(_assignment(c) for c in _WRITTEN if c != "task_id"),
    success=sql.Literal(states.SUCCESS),
)

_READ_COLUMNS = tuple(f"{c}::text" if c in _JSON else c for c in _WRITTEN)
READ_STATES = statement(
    "SELECT {columns} FROM {t} WHERE task_id = ANY(%s)",
    columns=sql.SQL(", ").join(sql.SQL(c) for c in _READ_COLUMNS),
    t=_TABLE,
)
DELETE_TASK = statement("DELETE FROM {t} WHERE task_id = %s", t=_TABLE)

_GROUPS = sql.Identifier(GROUP_RESULT)
SAVE_GROUP = statement(
    "INSERT INTO {g} (group_id, result) VALUES (%s, %s::jsonb) "
    "ON CONFLICT (group_id) DO UPDATE SET result = EXCLUDED.result, updated_at = now()",
    g=_GROUPS,
)
READ_GROUP = statement("SELECT result::text FROM {g} WHERE group_id = %s", g=_GROUPS)
DELETE_GROUP = statement("DELETE FROM {g} WHERE group_id = %s", g=_GROUPS)


def write_state(conn: Connection, row: StateRow) -> None:
    """Upsert the row and, for a ready state, notify waiters on commit."""
    conn.execute(UPSERT_STATE, row.params())


def read_states(conn: Connection, task_ids: Iterable[str]) -> dict[str, StoredState]:
    """The stored rows of `task_ids` that exist, by task id; one query for any number."""
    rows = conn.execute(READ_STATES, (list(task_ids),)).fetchall()
    return {row[0]: stored_state(row) for row in rows}


def stored_state(row: Sequence[Any]) -> StoredState:
    """A row of `READ_STATES`, JSON columns decoded (for callers with their own connection)."""
    values = dict(zip(_WRITTEN, row, strict=True))
    values.update((c, codec.decode(values[c])) for c in _JSON & values.keys())
    return StoredState(**values)


def split_notification(payload: str) -> tuple[str, str | None]:
    """(task id, the row as JSON text or None when it did not fit) of a notification."""
    task_id, _, row = payload.partition("\n")
    return task_id, row or None


def notified_state(row: str) -> StoredState:
    """The row a notification carried (`to_jsonb` of the written row)."""
    values = codec.decode(row)
    done = values.get("date_done")
    values["date_done"] = datetime.fromisoformat(done) if isinstance(done, str) else None
    return StoredState(**{c: values.get(c) for c in _WRITTEN})


def delete_state(conn: Connection, task_id: str) -> None:
    conn.execute(DELETE_TASK, (task_id,))


def save_group(conn: Connection, group_id: str, result_json: str) -> None:
    conn.execute(SAVE_GROUP, (group_id, result_json))


def read_group(conn: Connection, group_id: str) -> str | None:
    row = conn.execute(READ_GROUP, (group_id,)).fetchone()
    return None if row is None else str(row[0])


def delete_group(conn: Connection, group_id: str) -> None:
    conn.execute(DELETE_GROUP, (group_id,))
