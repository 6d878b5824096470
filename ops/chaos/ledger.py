"""The ledger: every execution of a suite task appends what it did; nothing hides a second one.

`chaos_attempts` is append-only, with no uniqueness: one row per execution, saying whether
that execution applied the effect. A key applied by two executions therefore shows as two
rows with `applied`, and "applied twice" counts such keys. What keeps a key from being applied
twice is the guard, the same exactly-once effect users get (`results.effects.apply_once`):
the execution's `applied` row is written in the transaction that claims the key. With the
guard off (`SWITCHYARD_CHAOS_GUARD=off` in the workers' environment) every execution applies
its effect, and re-runs after a fault show up as keys applied twice: the check can fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg

from results.connections import Connection
from results.effects import apply_once

GUARD_ENV = "SWITCHYARD_CHAOS_GUARD"

DDL = (
    "CREATE TABLE IF NOT EXISTS chaos_attempts ("
    " run_id text NOT NULL, key integer NOT NULL, task_id text NOT NULL, applied boolean NOT NULL,"
    " at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS chaos_attempts_run ON chaos_attempts (run_id)",
)
_ATTEMPT = "INSERT INTO chaos_attempts (run_id, key, task_id, applied) VALUES (%s, %s, %s, %s)"


def migrate(owner_url: str) -> None:
    """Create the ledger table as the owner role; the runtime role gets rows rights."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for statement in DDL:
            conn.execute(statement)


def guard_on() -> bool:
    return os.environ.get(GUARD_ENV, "on") != "off"


def record(database_url: str, run_id: str, key: int, task_id: str) -> bool:
    """Apply the effect of (run_id, key), once when the guard is on; True when this call did."""

    def effect(conn: Connection) -> str:
        conn.execute(_ATTEMPT, (run_id, key, task_id, True))
        return task_id

    with psycopg.connect(database_url, autocommit=True) as conn:
        if not guard_on():
            effect(conn)
            return True
        outcome = apply_once(conn, f"chaos:{run_id}:{key}", effect, task_id=task_id)
        if not outcome.applied:
            conn.execute(_ATTEMPT, (run_id, key, task_id, False))
        return outcome.applied


@dataclass(frozen=True)
class Tally:
    """One run's executions: keys applied, keys applied more than once, all executions."""

    effects: int
    keys_applied_twice: int
    attempts: int

    @property
    def reruns(self) -> int:
        """Executions beyond the first application of each applied key."""
        return self.attempts - self.effects


def tally(database_url: str, run_id: str) -> Tally:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE applications > 0),"
            " count(*) FILTER (WHERE applications > 1), coalesce(sum(executions), 0)"
            " FROM (SELECT key, count(*) FILTER (WHERE applied) AS applications,"
            "       count(*) AS executions"
            "       FROM chaos_attempts WHERE run_id = %s GROUP BY key) AS per_key",
            (run_id,),
        ).fetchone() or (0, 0, 0)
    return Tally(int(row[0]), int(row[1]), int(row[2]))


def applied_keys(database_url: str, run_id: str) -> set[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT key FROM chaos_attempts WHERE run_id = %s AND applied", (run_id,)
        )
        return {int(r[0]) for r in rows}
