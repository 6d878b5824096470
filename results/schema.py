"""The result tables, created by the owner role; the runtime role only reads and writes rows.

`switchyard db migrate` runs `migrate`; it is idempotent, so the chart runs it as a hook
before every install and upgrade.
"""

from __future__ import annotations

from sqlalchemy import create_engine, inspect


def sqlalchemy_url(database_url: str) -> str:
    """SQLAlchemy's URL for a postgresql:// URL, on psycopg 3."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {scheme}://...")
    return f"postgresql+psycopg://{rest}"


def migrate(owner_url: str) -> list[str]:
    """Create the missing result tables; return one line per table created."""
    from celery.backends.database.models import ResultModelBase  # type: ignore[attr-defined]

    engine = create_engine(sqlalchemy_url(owner_url))
    try:
        before = set(inspect(engine).get_table_names())
        ResultModelBase.metadata.create_all(engine)
        after = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return [f"created table {name}" for name in sorted(after - before)]
