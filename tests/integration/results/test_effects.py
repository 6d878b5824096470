"""Exactly-once effects against the real results database: sequential, concurrent, rolled back.

Each test keeps its own side table, the stand-in for a user's business table, and counts its
rows: the count can be 2 when a second execution applies the effect again, which is what the
claim is there to prevent (the first test shows the count does reach 2 without it).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from config.settings import Settings
from results.connections import Connection
from results.effects import Outcome, apply_once
from tests.integration.results.helpers import wait_for


@pytest.fixture
def side_table(settings: Settings) -> Iterator[str]:
    """A table of applied effects with no uniqueness, so a second application shows."""
    name = f"effect_probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.migration_database_url, autocommit=True) as owner:
        owner.execute(f"CREATE TABLE {name} (key text NOT NULL, by text NOT NULL)")
        owner.execute(f"GRANT SELECT, INSERT ON {name} TO PUBLIC")
    yield name
    with psycopg.connect(settings.migration_database_url, autocommit=True) as owner:
        owner.execute(f"DROP TABLE {name}")


def _connect(settings: Settings) -> Connection:
    return psycopg.connect(settings.database_url, autocommit=True)


def _effect(table: str, key: str, by: str, gate: threading.Event | None = None) -> Any:
    def effect(conn: Connection) -> dict[str, str]:
        conn.execute(f"INSERT INTO {table} (key, by) VALUES (%s, %s)", (key, by))  # noqa: S608
        if gate is not None:
            gate.wait(30)
        return {"applied_by": by}

    return effect


def _rows(settings: Settings, table: str) -> list[tuple[str, str]]:
    with _connect(settings) as conn:
        return [(r[0], r[1]) for r in conn.execute(f"SELECT key, by FROM {table}")]  # noqa: S608


def test_without_the_claim_a_second_execution_applies_twice(
    settings: Settings, side_table: str
) -> None:
    """The side table can see a double application: the check below is not vacuous."""
    with _connect(settings) as conn:
        for by in ("first", "second"):
            _effect(side_table, "k", by)(conn)
    assert len(_rows(settings, side_table)) == 2


def test_a_second_execution_gets_the_first_outcome_and_applies_nothing(
    settings: Settings, side_table: str
) -> None:
    key = f"order-{uuid.uuid4()}"
    with _connect(settings) as conn:
        first = apply_once(conn, key, _effect(side_table, key, "first"), task_id="t1")
        second = apply_once(conn, key, _effect(side_table, key, "second"), task_id="t1")
    assert first == Outcome({"applied_by": "first"}, applied=True)
    assert second == Outcome({"applied_by": "first"}, applied=False)
    assert _rows(settings, side_table) == [(key, "first")]


def test_a_failed_effect_leaves_no_claim_and_the_next_execution_applies(
    settings: Settings, side_table: str
) -> None:
    key = f"order-{uuid.uuid4()}"

    def failing(conn: Connection) -> None:
        _effect(side_table, key, "failed")(conn)
        raise RuntimeError("the effect failed after its write")

    with _connect(settings) as conn:
        with pytest.raises(RuntimeError):
            apply_once(conn, key, failing)
        retried = apply_once(conn, key, _effect(side_table, key, "retry"))
    assert retried.applied
    assert _rows(settings, side_table) == [(key, "retry")]


def test_an_outcome_json_cannot_encode_commits_nothing(settings: Settings, side_table: str) -> None:
    key = f"order-{uuid.uuid4()}"

    def unencodable(conn: Connection) -> object:
        _effect(side_table, key, "bad")(conn)
        return object()

    with _connect(settings) as conn, pytest.raises(TypeError):
        apply_once(conn, key, unencodable)
    assert _rows(settings, side_table) == []


@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-dies"])
def test_two_executions_at_once_apply_the_effect_once(
    settings: Settings, side_table: str, first_commits: bool
) -> None:
    """The overlap after a broker restart: the second waits on the key, then follows the first."""
    key = f"order-{uuid.uuid4()}"
    gate = threading.Event()
    outcomes: dict[str, Outcome | BaseException] = {}

    def run(by: str, effect: Any) -> None:
        try:
            with _connect(settings) as conn:
                outcomes[by] = apply_once(conn, key, effect)
        except BaseException as exc:  # recorded for the assertions
            outcomes[by] = exc

    def first_effect(conn: Connection) -> Any:
        value = _effect(side_table, key, "first", gate)(conn)
        if not first_commits:
            raise RuntimeError("the first worker died inside its transaction")
        return value

    first = threading.Thread(target=run, args=("first", first_effect))
    first.start()
    wait_for(lambda: _claim_exists_uncommitted(settings, key))
    second = threading.Thread(target=run, args=("second", _effect(side_table, key, "second")))
    second.start()
    wait_for(lambda: _waiting_on_a_lock(settings) >= 1)
    gate.set()
    first.join(30)
    second.join(30)

    if first_commits:
        assert outcomes["first"] == Outcome({"applied_by": "first"}, applied=True)
        assert outcomes["second"] == Outcome({"applied_by": "first"}, applied=False)
        assert _rows(settings, side_table) == [(key, "first")]
    else:
        assert isinstance(outcomes["first"], RuntimeError)
        assert outcomes["second"] == Outcome({"applied_by": "second"}, applied=True)
        assert _rows(settings, side_table) == [(key, "second")]


def _claim_exists_uncommitted(settings: Settings, key: str) -> bool:
    """Another session holds the key's row lock: a NOWAIT claim of it fails at once."""
    with _connect(settings) as conn:
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '1ms'")
                conn.execute(
                    "INSERT INTO switchyard_effect (key, task_id, task_name) VALUES (%s, '', '') "
                    "ON CONFLICT DO NOTHING",
                    (key,),
                )
                raise _Probe
        except psycopg.errors.LockNotAvailable:
            return True
        except _Probe:
            return False


class _Probe(Exception):
    """Rolls the probe's own insert back."""


def _waiting_on_a_lock(settings: Settings) -> int:
    with _connect(settings) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0
