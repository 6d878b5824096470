"""Exactly-once effects: `switchyard_effect`, one claimed key per applied effect.

`results.effects.apply_once` inserts the key in the same transaction as the effect's own
writes; retention expires claims with results, through the `updated_at` index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "switchyard_effect",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("task_id", sa.Text, nullable=False),
        sa.Column("task_name", sa.Text, nullable=False),
        sa.Column("outcome", JSONB, comment="what the effect returned"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        comment="Exactly-once effects: a key is claimed in the same transaction as the "
        "effect's writes",
    )
    op.create_index("switchyard_effect_updated_at", "switchyard_effect", ["updated_at"])


def downgrade() -> None:
    op.drop_table("switchyard_effect")
