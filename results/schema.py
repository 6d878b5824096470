"""The result tables, created by the owner role; the runtime role only reads and writes rows.

`switchyard db migrate` runs `migrate`; it is idempotent, so the chart runs it as a hook
before every install and upgrade. It creates Switchyard's own tables (JSON only, one row per
task, chord counters) and Celery's stock tables, which stay so that the stock backend can
still be selected, for the benchmark.

Every table has `updated_at`, set by the database on each write: retention deletes rows whose
`updated_at` is older than `result_expires`, through the index on it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    func,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()


def _expiring_table(name: str, *columns: Column[Any], comment: str) -> Table:
    """A table whose rows retention can expire: `updated_at`, set on every write, indexed."""
    return Table(
        name,
        metadata,
        *columns,
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index(f"{name}_updated_at", "updated_at"),
        comment=comment,
    )


TASK_RESULT = _expiring_table(
    "switchyard_task_result",
    Column("task_id", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("result", JSONB),
    Column("traceback", Text),
    Column("date_done", DateTime(timezone=True)),
    Column("name", Text),
    Column("queue", Text),
    Column("worker", Text),
    Column("retries", Integer),
    Column("children", JSONB),
    Column("group_id", Text),
    Column("parent_id", Text),
    Column("args", JSONB, comment="only with result_extended"),
    Column("kwargs", JSONB, comment="only with result_extended"),
    comment="One row per task, upserted on every state change; results are JSON, never pickle",
)

GROUP_RESULT = _expiring_table(
    "switchyard_group_result",
    Column("group_id", Text, primary_key=True),
    Column("result", JSONB, nullable=False, comment="GroupResult.as_tuple()"),
    comment="Saved GroupResults (GroupResult.save / restore)",
)

CHORD = _expiring_table(
    "switchyard_chord",
    Column("group_id", Text, primary_key=True),
    Column("size", Integer, comment="known once the header's last task is about to be sent"),
    Column("done", Integer, nullable=False, server_default=text("0")),
    Column("fired_at", DateTime(timezone=True)),
    comment="Chord counter: each header completion adds one; the one reaching size sends the body",
)

CHORD_PART = _expiring_table(
    "switchyard_chord_part",
    Column("group_id", Text, primary_key=True),
    Column("task_id", Text, primary_key=True),
    Column("idx", Integer, comment="position in the header"),
    Column("state", Text, nullable=False),
    Column("result", JSONB),
    comment="Header results of running chords; a task id counts once however often it runs",
)

OWN_TABLES = (TASK_RESULT, GROUP_RESULT, CHORD, CHORD_PART)
RUNTIME_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


def sqlalchemy_url(database_url: str) -> str:
    """SQLAlchemy's URL for a postgresql:// URL, on psycopg 3."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {scheme}://...")
    return f"postgresql+psycopg://{rest}"


def migrate(owner_url: str, runtime_role: str | None = None) -> list[str]:
    """Create the missing result tables; return one line per table created.

    Parameters:
        runtime_role: granted row access (no DDL) on Switchyard's tables, for databases
            where the owner's default privileges do not already cover it.
    """
    from celery.backends.database.models import ResultModelBase  # type: ignore[attr-defined]

    engine = create_engine(sqlalchemy_url(owner_url))
    try:
        before = set(inspect(engine).get_table_names())
        with engine.begin() as conn:
            ResultModelBase.metadata.create_all(conn)
            metadata.create_all(conn)
            if runtime_role:
                role = conn.dialect.identifier_preparer.quote(runtime_role)
                for table in OWN_TABLES:
                    conn.execute(text(f"GRANT {RUNTIME_PRIVILEGES} ON {table.name} TO {role}"))
        after = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return [f"created table {name}" for name in sorted(after - before)]
