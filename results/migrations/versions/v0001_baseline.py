"""Baseline: the result tables exactly as `switchyard db migrate` created them before migrations.

Celery's stock tables (with the extended columns and their sequences, as Celery 5.5+ creates
them) and Switchyard's own four. A database that already has them is stamped at this revision
instead of running it. Frozen: later changes are new revisions, never edits here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def _celery_table(name: str, sequence: str, key: str, *columns: sa.Column[object]) -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence(sequence)))
    op.create_table(
        name,
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column(key, sa.String(155)),
        *columns,
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(key),
    )
    op.create_index(f"ix_{name}_date_done", name, ["date_done"])


def _own_table(name: str, *columns: sa.Column[object], comment: str) -> None:
    updated_at = sa.Column("updated_at", _WHEN, server_default=sa.func.now(), nullable=False)
    op.create_table(name, *columns, updated_at, comment=comment)
    op.create_index(f"{name}_updated_at", name, ["updated_at"])


def upgrade() -> None:
    _celery_table(
        "celery_taskmeta",
        "task_id_sequence",
        "task_id",
        sa.Column("status", sa.String(50)),
        sa.Column("result", sa.LargeBinary),
        sa.Column("date_done", sa.DateTime),
        sa.Column("traceback", sa.Text),
        sa.Column("children", sa.LargeBinary),
        sa.Column("name", sa.String(155)),
        sa.Column("args", sa.LargeBinary),
        sa.Column("kwargs", sa.LargeBinary),
        sa.Column("worker", sa.String(155)),
        sa.Column("retries", sa.Integer),
        sa.Column("queue", sa.String(155)),
        sa.Column("stamps", sa.LargeBinary),
    )
    _celery_table(
        "celery_tasksetmeta",
        "taskset_id_sequence",
        "taskset_id",
        sa.Column("result", sa.LargeBinary),
        sa.Column("date_done", sa.DateTime),
    )
    _own_table(
        "switchyard_task_result",
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("result", JSONB),
        sa.Column("traceback", sa.Text),
        sa.Column("date_done", _WHEN),
        sa.Column("name", sa.Text),
        sa.Column("queue", sa.Text),
        sa.Column("worker", sa.Text),
        sa.Column("retries", sa.Integer),
        sa.Column("children", JSONB),
        sa.Column("group_id", sa.Text),
        sa.Column("parent_id", sa.Text),
        sa.Column("args", JSONB, comment="only with result_extended"),
        sa.Column("kwargs", JSONB, comment="only with result_extended"),
        comment="One row per task, upserted on every state change; results are JSON, never pickle",
    )
    _own_table(
        "switchyard_group_result",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("result", JSONB, nullable=False, comment="GroupResult.as_tuple()"),
        comment="Saved GroupResults (GroupResult.save / restore)",
    )
    _own_table(
        "switchyard_chord",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column(
            "size", sa.Integer, comment="known once the header's last task is about to be sent"
        ),
        sa.Column("done", sa.Integer, server_default=sa.text("0"), nullable=False),
        sa.Column("fired_at", _WHEN),
        comment="Chord counter: each header completion adds one; the one reaching size sends "
        "the body",
    )
    _own_table(
        "switchyard_chord_part",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("task_id", sa.Text, primary_key=True),
        sa.Column("idx", sa.Integer, comment="position in the header"),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("result", JSONB),
        comment="Header results of running chords; a task id counts once however often it runs",
    )


def downgrade() -> None:
    for table in (
        "switchyard_chord_part",
        "switchyard_chord",
        "switchyard_group_result",
        "switchyard_task_result",
        "celery_tasksetmeta",
        "celery_taskmeta",
    ):
        op.drop_table(table)
    for sequence in ("taskset_id_sequence", "task_id_sequence"):
        op.execute(sa.schema.DropSequence(sa.Sequence(sequence)))
