"""Exactly-once effects: a task's own database writes commit together with the claim of a key.

Celery on RabbitMQ delivers at least once. A task runs again when its worker died before the
ack, when the broker connection broke mid-task, or when it is retried; after a broker restart
two copies can even run at the same time. An effect kept in the results database can still be
applied exactly once: `apply_once` inserts the effect's key into `switchyard_effect` in the
same transaction as the effect's own writes, so both commit or neither does.

- A later execution with the same key finds the claim and gets the first execution's stored
  outcome back, without running the effect.
- Two executions at the same moment serialise on the key's primary key: the second waits for
  the first transaction; if it committed, the second returns its outcome; if it rolled back
  (its worker died mid-transaction), the second applies the effect.

Not covered: effects outside this database (an HTTP call, an e-mail, a file). For those the
key is sent along (`Idempotency-Key` header) and the other side must honour it: a process that
dies after the call and before the commit runs the call again, with the same key. A claim is
kept as long as results are (`result_expires`); a message redelivered after that runs again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from results.connections import Connection, statement
from results.tables import EFFECT

_TABLE = sql.Identifier(EFFECT)
_CLAIM = statement(
    "INSERT INTO {t} (key, task_id, task_name) VALUES (%s, %s, %s) "
    "ON CONFLICT (key) DO NOTHING RETURNING key",
    t=_TABLE,
)
_OUTCOME = statement("SELECT outcome FROM {t} WHERE key = %s", t=_TABLE)
_RECORD = statement(
    "UPDATE {t} SET outcome = %s, updated_at = now() WHERE key = %s",
    t=_TABLE,
)

Effect = Callable[[Connection], Any]


@dataclass(frozen=True)
class Outcome:
    """What an effect returned, and whether this execution is the one that applied it."""

    value: Any
    applied: bool


def apply_once(
    conn: Connection, key: str, effect: Effect, *, task_id: str = "", task_name: str = ""
) -> Outcome:
    """Run `effect(conn)` unless `key` was already applied; claim and writes commit together.

    `effect` must do its writes on `conn` (that is what puts them in the claim's transaction)
    and return a JSON-encodable value, stored as the key's outcome.

    Parameters:
        conn: a connection of the results database; in autocommit mode a transaction is
            opened here, otherwise a savepoint inside the caller's transaction (then the
            caller's commit is the one that counts).
        key: the effect's idempotency key: a task id, or a key computed from the arguments.

    Raises:
        ValueError: an empty key (it would make every effect the same one).
        TypeError: the outcome is not JSON-encodable; nothing is committed.
    """
    if not key:
        raise ValueError("an exactly-once effect needs a non-empty key")
    with conn.transaction():
        if conn.execute(_CLAIM, (key, task_id, task_name)).fetchone() is None:
            row = conn.execute(_OUTCOME, (key,)).fetchone()
            return Outcome(row[0] if row else None, applied=False)
        value = effect(conn)
        conn.execute(_RECORD, (Jsonb(value), key))
        return Outcome(value, applied=True)


def once(task: Any, effect: Effect, key: str | None = None) -> Any:
    """Inside a task: apply `effect` once per key (default: the task id), return its outcome.

    The task id stays the same across retries and redeliveries, so the default key makes a
    task's database effect happen once however often the message is delivered; pass a key
    computed from the arguments to make two different messages one effect (an order id).

    Raises:
        RuntimeError: the app's result backend is not Switchyard's (no results database).
    """
    pool = getattr(task.backend, "pool", None)
    if pool is None or not hasattr(pool, "connection"):
        raise RuntimeError(
            "exactly-once effects need the switchyard+postgresql result backend; "
            f"{type(task.backend).__name__} has no results database"
        )
    request = task.request
    with pool.connection() as conn:
        return apply_once(
            conn, key or str(request.id), effect, task_id=str(request.id), task_name=task.name
        ).value
