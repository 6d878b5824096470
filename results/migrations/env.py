"""Alembic's environment for the result tables, run by `results.migration`.

Online, it migrates on the connection `results.migration.migrate` opened (inside its
transaction and lock); offline (`--sql`), it writes PostgreSQL's SQL without a database.
"""

from __future__ import annotations

from alembic import context

from results.migration import COMPARE_OPTIONS
from results.schema import metadata

connection = context.config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(
        dialect_name="postgresql",
        target_metadata=metadata,
        literal_binds=True,
        transactional_ddl=True,
        **COMPARE_OPTIONS,
    )
elif connection is None:
    raise RuntimeError("run the result migrations through `switchyard db migrate`")
else:
    context.configure(connection=connection, target_metadata=metadata, **COMPARE_OPTIONS)

with context.begin_transaction():
    context.run_migrations()
