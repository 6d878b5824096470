"""What beat sends, and when."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from config.settings import Settings

NIGHTLY_MAINTENANCE = crontab(hour=2, minute=30)  # 02:30 UTC: the quietest hour


def beat_schedule(settings: Settings) -> dict[str, Any]:
    """Beat's schedule; `SWITCHYARD_MAINTENANCE_INTERVAL_S` shortens it for tests."""
    every: Any = settings.maintenance_interval_s or NIGHTLY_MAINTENANCE
    return {
        "nightly-db-maintenance": {
            "task": "tasks.maintenance.execute_db_maintenance",
            "schedule": every,
        },
    }
