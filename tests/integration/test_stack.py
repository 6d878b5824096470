"""The local stack: idempotent `up`, `down` that stops its own processes and keeps data."""

from __future__ import annotations

import psycopg
import pytest

from config.settings import Settings
from ops.stack.manager import Stack
from ops.stack.processes import is_ours


def test_second_up_changes_nothing(stack: Stack) -> None:
    before = (stack.rabbit.pid(), stack.postgres.pid())
    lines = Stack(stack.layout).up()
    assert (stack.rabbit.pid(), stack.postgres.pid()) == before
    assert not any("started" in line for line in lines), lines


def test_status_reports_both_services_answering(stack: Stack) -> None:
    rows = {row.name: row for row in Stack(stack.layout).status()}
    assert rows["broker"].answers
    assert rows["broker"].pid == stack.rabbit.pid()
    assert rows["database"].answers
    assert rows["database"].pid == stack.postgres.pid()


def test_runtime_role_cannot_run_ddl(settings: Settings) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE celery_taskmeta")


def test_down_stops_only_its_processes_and_up_keeps_data(stack: Stack, settings: Settings) -> None:
    with psycopg.connect(settings.migration_database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS survives_restart (marker text)")
        conn.execute("DELETE FROM survives_restart")
        conn.execute("INSERT INTO survives_restart VALUES ('kept')")
    pids = {"rabbit": stack.rabbit.pid(), "postgres": stack.postgres.pid()}
    assert all(pids.values())

    Stack(stack.layout).down()
    assert not is_ours(pids["rabbit"], stack.rabbit.marker)
    assert not is_ours(pids["postgres"], stack.postgres.marker)
    assert Stack(stack.layout).status()[0].answers is False

    Stack(stack.layout).up()
    with psycopg.connect(settings.migration_database_url, autocommit=True) as conn:
        row = conn.execute("SELECT marker FROM survives_restart").fetchone()
        conn.execute("DROP TABLE survives_restart")
    assert row == ("kept",)
