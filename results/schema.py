"""The result tables as they should be: the one declaration the migrations are checked against.

Switchyard's own tables (JSON only, one row per task, chord counters) and Celery's stock
tables, copied from Celery's models so that the stock backend can still be selected, for the
benchmark. The migrations in `results/migrations/` create and change them; a test fails when
the database migrated to head and this metadata differ, so a change here needs a revision.

Every own table has `updated_at`, set by the database on each write: retention deletes rows
whose `updated_at` is older than `result_expires`, through the index on it.

Only `switchyard db migrate` (and tests) import this module: it loads SQLAlchemy, which the
runtime does without (see `results.tables`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from results import tables

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
    tables.TASK_RESULT,
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
    tables.GROUP_RESULT,
    Column("group_id", Text, primary_key=True),
    Column("result", JSONB, nullable=False, comment="GroupResult.as_tuple()"),
    comment="Saved GroupResults (GroupResult.save / restore)",
)

CHORD = _expiring_table(
    tables.CHORD,
    Column("group_id", Text, primary_key=True),
    Column("size", Integer, comment="known once the header's last task is about to be sent"),
    Column("done", Integer, nullable=False, server_default=text("0")),
    Column("fired_at", DateTime(timezone=True)),
    comment="Chord counter: each header completion adds one; the one reaching size sends the body",
)

CHORD_PART = _expiring_table(
    tables.CHORD_PART,
    Column("group_id", Text, primary_key=True),
    Column("task_id", Text, primary_key=True),
    Column("idx", Integer, comment="position in the header"),
    Column("state", Text, nullable=False),
    Column("result", JSONB),
    comment="Header results of running chords; a task id counts once however often it runs",
)

EFFECT = _expiring_table(
    tables.EFFECT,
    Column("key", Text, primary_key=True),
    Column("task_id", Text, nullable=False),
    Column("task_name", Text, nullable=False),
    Column("outcome", JSONB, comment="what the effect returned"),
    comment="Exactly-once effects: a key is claimed in the same transaction as the effect's writes",
)

RATE_BUCKET = _expiring_table(
    tables.RATE_BUCKET,
    Column("bucket", Text, primary_key=True, comment="task name, or task name and key"),
    Column("tokens", Double, nullable=False, comment="tokens left at updated_at"),
    comment="Token buckets of shared rate limits (execution.shared_rate_limit): one row per "
    "bucket, refilled on each take from the time since updated_at, so every replica shares it",
)

IDEMPOTENCY_KEY = _expiring_table(
    tables.IDEMPOTENCY_KEY,
    Column("client", Text, primary_key=True, comment="who sent the key; keys are per client"),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False, comment="hash of the request the key came with"),
    Column("task_id", Text, nullable=False),
    Column("state", Text, nullable=False, comment="publishing, published or failed"),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    comment="A producer request's idempotency key and the one task id it enqueued",
)

OWN_TABLES = (
    TASK_RESULT,
    GROUP_RESULT,
    CHORD,
    CHORD_PART,
    EFFECT,
    RATE_BUCKET,
    IDEMPOTENCY_KEY,
)


def _copy_celery_tables() -> None:
    """Celery's stock tables, as its models declare them (extended columns included)."""
    from celery.backends.database.models import ResultModelBase  # type: ignore[attr-defined]

    stock: MetaData = ResultModelBase.metadata
    for table in stock.tables.values():
        table.to_metadata(metadata)


_copy_celery_tables()
