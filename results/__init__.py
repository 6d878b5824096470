"""Result storage in PostgreSQL: schema, migration, and Switchyard's Celery result backend."""

BACKEND_SCHEME = "switchyard"
"""`<scheme>+postgresql://...` selects `results.backend.SwitchyardBackend` as Celery's backend."""


def sqlalchemy_url(database_url: str) -> str:
    """SQLAlchemy's URL for a postgresql:// URL, on psycopg 3 (a string: no SQLAlchemy needed)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a postgresql:// URL: {scheme}://...")
    return f"postgresql+psycopg://{rest}"
