"""The producer API's idempotency keys: a request's key and the one task id it enqueued.

Revision 0004, after 0003.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLE = "switchyard_idempotency_key"
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column(
            "client", sa.Text, primary_key=True, comment="who sent the key; keys are per client"
        ),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column(
            "fingerprint", sa.Text, nullable=False, comment="hash of the request the key came with"
        ),
        sa.Column("task_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False, comment="publishing, published or failed"),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, server_default=sa.func.now(), nullable=False),
        comment="A producer request's idempotency key and the one task id it enqueued",
    )
    op.create_index(f"{_TABLE}_updated_at", _TABLE, ["updated_at"])


def downgrade() -> None:
    op.drop_table(_TABLE)
