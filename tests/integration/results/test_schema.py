"""The schema: migrated idempotently by the owner, untouchable by the runtime role, no pickle."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from config.settings import Settings
from results.migration import migrate
from results.tables import OWN_TABLES

Db = psycopg.Connection[tuple[object, ...]]


def test_migrate_again_applies_nothing(settings: Settings) -> None:
    assert migrate(settings.migration_database_url, "switchyard_app") == []


@pytest.mark.parametrize("table", list(OWN_TABLES))
def test_runtime_role_cannot_run_ddl(db: Db, table: str) -> None:
    name = sql.Identifier(table)
    for statement in (
        sql.SQL("DROP TABLE {}").format(name),
        sql.SQL("ALTER TABLE {} ADD COLUMN intruder bytea").format(name),
        sql.SQL("TRUNCATE {}").format(name),
        sql.SQL("CREATE INDEX intruder ON {} (updated_at)").format(name),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement)


def test_no_column_can_hold_a_pickle(db: Db) -> None:
    types = db.execute(
        "SELECT DISTINCT data_type FROM information_schema.columns WHERE table_name = ANY(%s)",
        (list(OWN_TABLES),),
    ).fetchall()
    allowed = {"text", "jsonb", "integer", "timestamp with time zone"}
    allowed.add("double precision")  # a rate bucket's tokens
    assert {t for (t,) in types} <= allowed
