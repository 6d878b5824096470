"""Shared rate limits: `switchyard_rate_bucket`, one token bucket per task (and key).

`execution.shared_rate_limit` takes a token with one upsert that locks the bucket's row, so
every replica and process shares the limit; retention expires buckets left untouched, which
then start full again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "switchyard_rate_bucket",
        sa.Column("bucket", sa.Text, primary_key=True, comment="task name, or task name and key"),
        sa.Column("tokens", sa.Double, nullable=False, comment="tokens left at updated_at"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        comment="Token buckets of shared rate limits (execution.shared_rate_limit): one row per "
        "bucket, refilled on each take from the time since updated_at, so every replica shares it",
    )
    op.create_index("switchyard_rate_bucket_updated_at", "switchyard_rate_bucket", ["updated_at"])


def downgrade() -> None:
    op.drop_table("switchyard_rate_bucket")
