"""The ledger: every suite task records its side effect under a uniqueness constraint.

`chaos_effects` has one row per (run, key) at most, so a task that runs twice after a
fault is detected (a second attempt finds the row) and its effect is applied once.
`chaos_attempts` records every execution, so re-runs are visible, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

DDL = (
    "CREATE TABLE IF NOT EXISTS chaos_effects ("
    " run_id text NOT NULL, key integer NOT NULL, task_id text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, key))",
    "CREATE TABLE IF NOT EXISTS chaos_attempts ("
    " run_id text NOT NULL, key integer NOT NULL, task_id text NOT NULL, applied boolean NOT NULL,"
    " at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS chaos_attempts_run ON chaos_attempts (run_id)",
)


def migrate(owner_url: str) -> None:
    """Create the ledger tables as the owner role; the runtime role gets rows rights."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for statement in DDL:
            conn.execute(statement)


def record(database_url: str, run_id: str, key: int, task_id: str) -> bool:
    """Apply the effect of (run_id, key) once; True when this call applied it."""
    with psycopg.connect(database_url, autocommit=False) as conn:
        applied = (
            conn.execute(
                "INSERT INTO chaos_effects (run_id, key, task_id) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING RETURNING key",
                (run_id, key, task_id),
            ).fetchone()
            is not None
        )
        conn.execute(
            "INSERT INTO chaos_attempts (run_id, key, task_id, applied) VALUES (%s, %s, %s, %s)",
            (run_id, key, task_id, applied),
        )
        conn.commit()
    return applied


@dataclass(frozen=True)
class Tally:
    effects: int
    keys_applied_twice: int
    attempts: int


def tally(database_url: str, run_id: str) -> Tally:
    with psycopg.connect(database_url) as conn:
        effects, twice = conn.execute(
            "SELECT count(*), count(*) - count(DISTINCT key) FROM chaos_effects WHERE run_id = %s",
            (run_id,),
        ).fetchone() or (0, 0)
        (attempts,) = conn.execute(
            "SELECT count(*) FROM chaos_attempts WHERE run_id = %s", (run_id,)
        ).fetchone() or (0,)
    return Tally(int(effects), int(twice), int(attempts))


def applied_keys(database_url: str, run_id: str) -> set[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT key FROM chaos_effects WHERE run_id = %s", (run_id,))
        return {int(r[0]) for r in rows}
