"""A stock Celery app, the baseline of `switchyard bench`: Celery's defaults, nothing tuned.

Only the broker and the result backend URLs are set (the same broker and database as the
stack, Celery's own `db+postgresql+psycopg://` backend). Everything else is what a new
Celery user gets: the `celery` queue and exchange, prefork with one child per CPU, prefetch
multiplier 4, early acks, no publisher confirms, JSON. The no-op probe is a shared task
(`ops.bench.tasks.noop`), so this app runs the very same function under the same name.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

import ops.bench.tasks  # noqa: F401 - registers the shared no-op with this app too
from config.app import result_backend_url
from config.settings import get_settings


def stock_settings() -> dict[str, Any]:
    """The two URLs; read on first use, never at import."""
    settings = get_settings()
    settings.require("broker_url", "database_url")
    return {
        "broker_url": settings.broker_url,
        "result_backend": result_backend_url(settings.database_url),
    }


def create_stock_app() -> Celery:
    stock = Celery("stock", set_as_current=False)
    stock.add_defaults(stock_settings)
    return stock


app = create_stock_app()

# `celery --app ops.bench.stock_app:app worker` with Celery's defaults, as a user starts it.
WORKER_ARGV = ["celery", "--app", f"{__name__}:app", "worker", "--hostname", "stock@%h"]
