"""Alembic migrations of the result tables, each test in a scratch schema of the real database.

A database created before migrations upgrades in place with every result kept and readable;
the baseline is exactly the tables of before; the tables migrated to head match
`results.schema`, and the drift check sees it when they do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from alembic import command
from celery import states
from psycopg import sql
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine

from config.app import app
from config.settings import Settings
from results import sqlalchemy_url
from results.backend import SwitchyardBackend
from results.migration import (
    BASELINE,
    MigrationError,
    alembic_config,
    drift,
    grant_statements,
    head,
    migrate,
)
from results.schema import metadata
from results.tables import GROUP_RESULT, OWN_TABLES

BEFORE_MIGRATIONS = Path(__file__).with_name("fixtures") / "schema_before_migrations.sql"


@dataclass(frozen=True)
class Scratch:
    """A schema of its own in the test database, reached through `search_path`."""

    name: str
    owner_url: str
    app_url: str
    runtime_role: str

    def owner(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.owner_url, autocommit=True)

    def backend(self) -> SwitchyardBackend:
        return SwitchyardBackend(app=app, url=self.app_url)


def _switchyard(scratch: Scratch, *args: str) -> subprocess.CompletedProcess[str]:
    """The `switchyard` command, its database URLs pointing into the scratch schema."""
    env = {
        **os.environ,
        "SWITCHYARD_MIGRATION_DATABASE_URL": scratch.owner_url,
        "SWITCHYARD_DATABASE_URL": scratch.app_url,
    }
    return subprocess.run(
        [Path(sys.executable).with_name("switchyard"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _in_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture
def scratch(settings: Settings) -> Iterator[Scratch]:
    name = f"migration_test_{uuid.uuid4().hex[:10]}"
    role = urlsplit(settings.database_url).username or ""
    with psycopg.connect(settings.migration_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
                sql.Identifier(name), sql.Identifier(role)
            )
        )
    yield Scratch(
        name,
        _in_schema(settings.migration_database_url, name),
        _in_schema(settings.database_url, name),
        role,
    )
    with psycopg.connect(settings.migration_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


# Switchyard's own tables when migrations began; later revisions add more.
TABLES_BEFORE_MIGRATIONS = (
    "switchyard_task_result",
    "switchyard_group_result",
    "switchyard_chord",
    "switchyard_chord_part",
)


def _create_as_before_migrations(scratch: Scratch) -> None:
    """The tables as the old `switchyard db migrate` left them: its DDL, then its grants."""
    with scratch.owner() as conn:
        conn.execute(BEFORE_MIGRATIONS.read_text())
        for statement in grant_statements(scratch.runtime_role):
            if statement.split(" ON ", 1)[1].split(" TO ", 1)[0] in TABLES_BEFORE_MIGRATIONS:
                conn.execute(statement)


def _rows(scratch: Scratch) -> dict[str, list[str]]:
    """Every row of every table, as JSON text, in a stable order."""
    with scratch.owner() as conn:
        names = [
            n
            for (n,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'alembic_version'"
            )
        ]
        return {
            n: [
                r
                for (r,) in conn.execute(
                    sql.SQL("SELECT to_jsonb(t)::text FROM {} t ORDER BY 1").format(
                        sql.Identifier(n)
                    )
                )
            ]
            for n in names
        }


def _version(scratch: Scratch) -> str | None:
    with scratch.owner() as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def _catalog(scratch: Scratch) -> list[tuple[Any, ...]]:
    """The schema's definition as PostgreSQL's catalog holds it, names without the schema."""
    with scratch.owner() as conn:
        return conn.execute(
            """
            SELECT 'column', c.relname, a.attnum::text, a.attname,
                   format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
                   pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid AND c.relkind = 'r'
              LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
             WHERE c.relnamespace = current_schema()::regnamespace
               AND a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'table', c.relname, '', '', '', '', '', obj_description(c.oid, 'pg_class')
              FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
            UNION ALL
            SELECT 'constraint', conrelid::regclass::text, '', conname,
                   pg_get_constraintdef(oid), '', '', ''
              FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
            UNION ALL
            SELECT 'index', tablename, '', indexname,
                   replace(indexdef, current_schema() || '.', ''), '', '', ''
              FROM pg_indexes WHERE schemaname = current_schema()
            UNION ALL
            SELECT 'sequence', sequencename, '', data_type::text,
                   concat_ws(' ', start_value, increment_by, min_value, max_value, cache_size,
                             cycle), '', '', ''
              FROM pg_sequences WHERE schemaname = current_schema()
            """
        ).fetchall()


def _without_version_table(catalog: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((r for r in catalog if "alembic_version" not in str(r[1]) + str(r[3])), key=repr)


def _drift(scratch: Scratch, target: MetaData = metadata) -> list[Any]:
    engine = create_engine(sqlalchemy_url(scratch.owner_url))
    try:
        with engine.connect() as conn:
            return drift(conn, target)
    finally:
        engine.dispose()


def test_a_database_from_before_migrations_upgrades_in_place(scratch: Scratch) -> None:
    _create_as_before_migrations(scratch)
    old = scratch.backend()
    tasks = {f"t-{i}": {"answer": i, "nested": [i, "x" * i]} for i in range(25)}
    for task_id, result in tasks.items():
        old.store_result(task_id, result, states.SUCCESS)
    old.store_result("failed", ValueError("bad input"), states.FAILURE, traceback="Traceback…")
    old.store_result("running", None, states.STARTED)
    app.GroupResult("g-1", [app.AsyncResult(t) for t in tasks]).save(backend=old)
    old.set_chord_size("chord-1", 3)
    with scratch.owner() as conn:
        conn.execute(
            "INSERT INTO celery_taskmeta (id, task_id, status, result) "
            "VALUES (nextval('task_id_sequence'), 'stock-1', 'SUCCESS', %s)",
            (b"\x80\x05K*.",),
        )
    old.pool.close()
    before = _rows(scratch)
    assert sum(map(len, before.values())) == 25 + 2 + 1 + 1 + 1

    done = _switchyard(scratch, "db", "migrate")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"stamped {BASELINE}: the tables predate migrations\n")
    assert _version(scratch) == head()
    after = _rows(scratch)
    assert {name: after[name] for name in before} == before
    added = [rows for name, rows in after.items() if name not in before]
    assert added == [[]] * len(added)
    new = scratch.backend()
    try:
        for task_id, result in tasks.items():
            meta = new.get_task_meta(task_id)
            assert (meta["status"], meta["result"]) == (states.SUCCESS, result)
        failed = new.get_task_meta("failed")
        assert failed["status"] == states.FAILURE
        assert "bad input" in str(new.exception_to_python(failed["result"]))
        assert new.get_task_meta("running")["status"] == states.STARTED
        restored = app.GroupResult.restore("g-1", backend=new)
        assert restored is not None
        assert [r.id for r in restored.results or []] == list(tasks)
        new.store_result("after-upgrade", [1, 2], states.SUCCESS)
        assert new.get_task_meta("after-upgrade")["result"] == [1, 2]
    finally:
        new.pool.close()
    assert migrate(scratch.owner_url, scratch.runtime_role) == []


def test_an_empty_database_migrates_to_head(scratch: Scratch) -> None:
    lines = migrate(scratch.owner_url, scratch.runtime_role)
    assert lines[0] == f"applied {BASELINE}"
    assert lines[-1] == f"applied {head()}"
    assert _version(scratch) == head()
    assert migrate(scratch.owner_url, scratch.runtime_role) == []


def test_the_baseline_is_exactly_the_tables_from_before_migrations(
    settings: Settings, scratch: Scratch
) -> None:
    _create_as_before_migrations(scratch)
    fresh = Scratch(
        scratch.name + "_b",
        _in_schema(settings.migration_database_url, scratch.name + "_b"),
        "",
        "",
    )
    with psycopg.connect(settings.migration_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(fresh.name)))
    try:
        engine = create_engine(sqlalchemy_url(fresh.owner_url))
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), BASELINE)
        engine.dispose()
        assert _version(fresh) == BASELINE
        before, baseline = _catalog(scratch), _catalog(fresh)
        assert len(before) > 60
        assert _without_version_table(baseline) == _without_version_table(before)
    finally:
        with psycopg.connect(settings.migration_database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(fresh.name)))


def test_the_tables_migrated_to_head_match_the_definitions(scratch: Scratch) -> None:
    migrate(scratch.owner_url, scratch.runtime_role)
    assert _drift(scratch) == []


def test_the_drift_check_sees_definitions_the_migrations_do_not_have(scratch: Scratch) -> None:
    migrate(scratch.owner_url, scratch.runtime_role)
    changed = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables[GROUP_RESULT].append_column(Column("owner", Text))
    changed.tables[OWN_TABLES[0]].c.retries.type = Text()
    changed.tables[OWN_TABLES[0]].c.state.nullable = True
    changed.tables["switchyard_chord"].indexes.clear()
    changed.tables["switchyard_chord_part"].c.idx.comment = "another comment"
    changed.remove(changed.tables["celery_tasksetmeta"])
    Table("switchyard_extra", changed, Column("id", Integer, primary_key=True))

    kinds = sorted(_kind(d) for d in _drift(scratch, changed))

    assert kinds == sorted(
        [
            "add_column switchyard_group_result.owner",
            "modify_type switchyard_task_result.retries",
            "modify_nullable switchyard_task_result.state",
            "remove_index switchyard_chord",
            "modify_comment switchyard_chord_part.idx",
            "remove_table celery_tasksetmeta",
            "remove_index celery_tasksetmeta",  # the dropped table's index
            "add_table switchyard_extra",
        ]
    )


def _kind(diff: Any) -> str:
    """`<operation> <table>[.<column>]` of one difference compare_metadata reports."""
    if isinstance(diff, list):  # column changes come as a list of one tuple
        op, _schema, table, column = diff[0][:4]
        return f"{op} {table}.{column}"
    op, subject = diff[0], diff[1]
    if op == "add_column":
        return f"{op} {diff[2]}.{diff[3].name}"
    table = getattr(subject, "table", subject)
    return f"{op} {table.name}"


def test_tables_of_an_unknown_origin_are_refused_and_left_alone(scratch: Scratch) -> None:
    with scratch.owner() as conn:
        conn.execute("CREATE TABLE switchyard_task_result (task_id text PRIMARY KEY)")
        conn.execute("INSERT INTO switchyard_task_result VALUES ('kept')")
    done = _switchyard(scratch, "db", "migrate")
    assert done.returncode == 1
    assert "'switchyard_task_result'] exist but ['celery_taskmeta'" in done.stderr
    with pytest.raises(MigrationError):
        migrate(scratch.owner_url)
    assert _rows(scratch) == {"switchyard_task_result": ['{"task_id": "kept"}']}
    with scratch.owner() as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)


def test_a_database_at_a_revision_this_release_lacks_is_refused(scratch: Scratch) -> None:
    """As after a rollback of the code to a release older than the database's schema."""
    migrate(scratch.owner_url, scratch.runtime_role)
    with scratch.owner() as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    before = _rows(scratch)
    done = _switchyard(scratch, "db", "migrate")
    assert done.returncode == 1
    assert "at revision 9999, which this release does not have" in done.stderr
    assert f"(its revisions end at {head()})" in done.stderr
    assert _version(scratch) == "9999"
    assert _rows(scratch) == before


def test_the_printed_sql_builds_the_same_schema(scratch: Scratch) -> None:
    done = _switchyard(scratch, "db", "migrate", "--sql")
    assert done.returncode == 0, done.stderr
    printed = done.stdout
    assert "CREATE TABLE switchyard_task_result" in printed
    with scratch.owner() as conn:
        conn.execute(printed)
    assert _version(scratch) == head()
    assert _drift(scratch) == []
    assert migrate(scratch.owner_url, scratch.runtime_role) == []
