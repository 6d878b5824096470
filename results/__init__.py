"""Result storage in PostgreSQL: schema, migration, and Switchyard's Celery result backend."""

BACKEND_SCHEME = "switchyard"
"""`<scheme>+postgresql://...` selects `results.backend.SwitchyardBackend` as Celery's backend."""
