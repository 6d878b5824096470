"""The Celery app. Importing it reads no settings; they are read once, on first use.

Use `-A config.app:app` on the command line; task modules import `app` from here.
Production workers run the task modules the declaration's routes name; probe, fault and
benchmark tasks are not among them, and reach a worker only through
`SWITCHYARD_EXTRA_TASK_MODULES` (tests, `switchyard bench`, `switchyard chaos`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.signals import celeryd_init

from compat import buffer_amqp_reads
from config.celery_defaults import FIXED
from config.schedule import beat_schedule
from config.settings import Settings, SettingsError, get_settings
from execution.ack_batch import ACK_BATCH_KEY
from execution.bounded_logs import install_bounded_logs
from execution.health_step import HEALTH_DIR_KEY, HEALTH_INTERVAL_KEY, install_health_files
from execution.inline_pool import WatchConnection
from execution.shared_rate_limit import BUCKET_DATABASE_KEY
from metrics.install import instrument
from metrics.worker import METRICS_ADDRESS_KEY
from results import BACKEND_SCHEME, sqlalchemy_url
from routing.celery_settings import routing_settings
from routing.declaration import TOPOLOGY
from routing.names import pool_of_nodename


def result_backend_url(database_url: str) -> str:
    """Celery's database backend URL for a PostgreSQL URL, on psycopg 3."""
    return f"db+{sqlalchemy_url(database_url)}"


def switchyard_backend_url(database_url: str) -> str:
    """The URL selecting Switchyard's result backend (`results.backend`) for a database URL."""
    result_backend_url(database_url)  # the same check of the scheme
    return f"{BACKEND_SCHEME}+{database_url}"


def selected_backend_url(settings: Settings) -> str:
    """`result_backend` as SWITCHYARD_RESULT_BACKEND chooses."""
    if settings.result_backend == "stock":
        return result_backend_url(settings.database_url)
    return switchyard_backend_url(settings.database_url)


def celery_settings(settings: Settings) -> dict[str, Any]:
    """Everything Celery is configured with: fixed settings, the environment, the topology."""
    TOPOLOGY.check_time_limits(settings.broker_consumer_timeout_s)
    common = {
        **FIXED,
        **routing_settings(TOPOLOGY),
        "beat_schedule": beat_schedule(settings),
        # Probe, fault and benchmark tasks, for the workers of tests and benchmarks only.
        "imports": settings.extra_task_module_names(),
        ACK_BATCH_KEY: (settings.ack_batch_size, settings.ack_batch_delay_ms),
        BUCKET_DATABASE_KEY: settings.database_url,
        HEALTH_DIR_KEY: settings.health_dir,
        HEALTH_INTERVAL_KEY: settings.health_interval_s,
        METRICS_ADDRESS_KEY: (settings.metrics_host, settings.metrics_port),
    }
    if settings.task_always_eager:
        # Tasks run inline in the caller: no broker, no workers, results kept in memory.
        return {
            **common,
            "task_always_eager": True,
            "task_eager_propagates": True,
            "broker_url": settings.broker_url or "memory://",
            "result_backend": "cache+memory://",
        }
    settings.require("broker_url", "database_url")
    return {
        **common,
        # Every node of a local cluster, in turn: a worker moves on when its node dies.
        "broker_url": settings.with_failover(settings.pool_broker_url or settings.broker_url),
        "result_backend": selected_backend_url(settings),
    }


def refuse_producer_credentials(celery: Celery) -> Callable[..., None]:
    """A `celeryd_init` receiver: a worker of `celery` whose pool has no broker user of its
    own stops before it connects. Celery logs and ignores what a receiver raises, so it
    exits; workers of other apps in the same process (the benchmark's stock app) pass."""

    def check(sender: Any = None, instance: Any = None, **_: Any) -> None:
        if getattr(instance, "app", None) is not celery or get_settings().task_always_eager:
            return
        try:
            get_settings().require_pool_url(pool_of_nodename(str(sender)))
        except SettingsError as exc:
            raise SystemExit(f"switchyard: {exc}") from None

    return check


def buffer_broker_reads(celery: Celery) -> Callable[..., None]:
    """A `celeryd_init` receiver: a worker of `celery` reads its broker connection in chunks
    (`compat.buffer_amqp_reads`); workers of other apps in the same process are left as
    Celery makes them, so the benchmark's stock worker stays stock."""

    def install(instance: Any = None, **_: Any) -> None:
        if getattr(instance, "app", None) is celery:
            buffer_amqp_reads()

    return install


def create_app() -> Celery:
    """A Celery app whose configuration is computed on first access, not at import."""
    celery = Celery(
        "switchyard",
        # The routes of the declaration name every task module; there is no second list.
        include=list(TOPOLOGY.task_modules),
        task_cls="execution.task_base:SwitchyardTask",
    )
    celery.add_defaults(lambda: celery_settings(get_settings()))
    celery.steps["consumer"].add(WatchConnection)
    celeryd_init.connect(refuse_producer_credentials(celery), weak=False)
    celeryd_init.connect(buffer_broker_reads(celery), weak=False)
    install_health_files(celery)
    install_bounded_logs()
    instrument(celery)
    return celery


app = create_app()
