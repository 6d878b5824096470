"""Names of the result tables, for the statements the runtime composes.

Workers and producers read and write rows through psycopg with statements composed from these
names; they never load SQLAlchemy or Alembic, which only `switchyard db migrate` needs. The
columns, types and indexes are declared in `results.schema` and changed by migrations.
"""

from __future__ import annotations

TASK_RESULT = "switchyard_task_result"
GROUP_RESULT = "switchyard_group_result"
CHORD = "switchyard_chord"
CHORD_PART = "switchyard_chord_part"
EFFECT = "switchyard_effect"
RATE_BUCKET = "switchyard_rate_bucket"
IDEMPOTENCY_KEY = "switchyard_idempotency_key"

OWN_TABLES = (TASK_RESULT, GROUP_RESULT, CHORD, CHORD_PART, EFFECT, RATE_BUCKET, IDEMPOTENCY_KEY)
"""Switchyard's own tables: every one has `updated_at`, indexed, through which retention
deletes expired rows; the runtime role gets row access to each."""

TASK_JSON_COLUMNS = frozenset({"result", "children", "args", "kwargs"})
"""Columns of TASK_RESULT holding JSON (`jsonb`): written as `::jsonb`, read back as text."""
