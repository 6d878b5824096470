"""Alembic owns the result schema: upgrade to head as the owner role, or print the SQL.

`switchyard db migrate` runs `migrate`, and the chart's hook Job runs the same command before
every install and upgrade; a database already at head is left alone. A database created before
the schema had migrations has the tables but no `alembic_version`: it is stamped at the
baseline, which is exactly those tables, then upgraded like any other.

The whole run is one transaction (PostgreSQL's DDL is transactional) under an advisory lock,
so two runs at once apply each revision once and a failed revision leaves nothing half done.

This module and the migrations load SQLAlchemy and Alembic; nothing on the runtime path
(workers, producers, the result backend) imports them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, create_engine, inspect, text

from results import sqlalchemy_url
from results.schema import metadata
from results.tables import OWN_TABLES

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"
BASELINE_TABLES = frozenset(
    {
        "celery_taskmeta",
        "celery_tasksetmeta",
        "switchyard_task_result",
        "switchyard_group_result",
        "switchyard_chord",
        "switchyard_chord_part",
    }
)
"""What `switchyard db migrate` created before migrations, and revision 0001 creates: frozen,
like the revision itself, whatever the tables become later."""

COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}
"""How the database is compared with `results.schema`, by the drift check and autogenerate."""

RUNTIME_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_LOCK_KEY = 0x5357_4442  # pg_advisory_xact_lock key of this command ("SWDB")


class MigrationError(RuntimeError):
    """The database is in a state the migrations cannot safely start from."""


@contextmanager
def _revision_errors(what: str) -> Iterator[None]:
    """Alembic's complaint about a revision (one this release does not have) as ours."""
    try:
        yield
    except CommandError as exc:
        raise MigrationError(f"{what}: {exc}; this release's revisions end at {head()}") from None


def alembic_config(
    connection: Connection | None = None, output: io.StringIO | None = None
) -> Config:
    """Alembic's configuration, without an ini file: the migrations ship inside the package."""
    config = Config(output_buffer=output)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "v%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, f"no revision in {MIGRATIONS}"
    return revision


def migrate(owner_url: str, runtime_role: str | None = None) -> list[str]:
    """Upgrade the database to head; return one line per revision stamped or applied.

    Parameters:
        owner_url: a postgresql:// URL of the role that owns the tables.
        runtime_role: granted row access (no DDL) on Switchyard's tables, for databases
            where the owner's default privileges do not already cover it.

    Raises:
        MigrationError: some of the baseline tables exist without a migration version, or
            the database is at a revision this release does not have.
    """
    engine = create_engine(sqlalchemy_url(owner_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            config = alembic_config(conn)
            lines = []
            current = MigrationContext.configure(conn).get_current_revision()
            if current is None and _stamp_needed(conn):
                command.stamp(config, BASELINE)
                current = BASELINE
                lines.append(f"stamped {BASELINE}: the tables predate migrations")
            lines += [f"applied {rev}" for rev in _pending(config, current)]
            command.upgrade(config, "head")
            for statement in grant_statements(runtime_role):
                conn.execute(text(statement))
    finally:
        engine.dispose()
    return lines


def migration_sql(from_revision: str | None = None, runtime_role: str | None = None) -> str:
    """The SQL `migrate` would run from `from_revision` (an empty database when None).

    Written for a DBA to review and apply; no database is contacted.

    Raises:
        MigrationError: `from_revision` is not a revision of this release.
    """
    output = io.StringIO()
    span = f"{from_revision}:head" if from_revision else "head"
    with _revision_errors(f"--from {from_revision}"):
        command.upgrade(alembic_config(output=output), span, sql=True)
    grants = "".join(f"{statement};\n\n" for statement in grant_statements(runtime_role))
    return output.getvalue() + grants


def grant_statements(runtime_role: str | None) -> list[str]:
    """Row access (never DDL) for the runtime role on Switchyard's tables."""
    if not runtime_role:
        return []
    role = '"' + runtime_role.replace('"', '""') + '"'
    return [f"GRANT {RUNTIME_PRIVILEGES} ON {table} TO {role}" for table in OWN_TABLES]


def drift(conn: Connection, target: MetaData = metadata) -> list[Any]:
    """Differences between the tables in the database and `target`: empty when they agree."""
    context = MigrationContext.configure(conn, opts=COMPARE_OPTIONS)
    return list(compare_metadata(context, target))


def _stamp_needed(conn: Connection) -> bool:
    """True when every baseline table exists: a database created before migrations."""
    present = BASELINE_TABLES & set(inspect(conn).get_table_names())
    if not present:
        return False
    missing = BASELINE_TABLES - present
    if missing:
        raise MigrationError(
            f"tables {sorted(present)} exist but {sorted(missing)} do not, and there is no "
            "alembic_version: not a database this command created; stamp it by hand once "
            "it matches a revision"
        )
    return True


def _pending(config: Config, current: str | None) -> list[str]:
    """Revisions after `current` up to head, oldest first."""
    newest_first = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
    if current is not None and current not in newest_first:
        raise MigrationError(
            f"the database is at revision {current}, which this release does not have (its "
            f"revisions end at {newest_first[0]}): a newer release migrated it"
        )
    pending = newest_first if current is None else newest_first[: newest_first.index(current)]
    return pending[::-1]
