"""Deployment settings, read from the environment once.

Every variable is prefixed ``SWITCHYARD_``. When a variable is not set, the value is taken
from the local stack's ``stack.env`` (written by ``switchyard stack up``), so a developer
never exports anything by hand, while a pod gets everything from its environment.
"""

from __future__ import annotations

import urllib.parse
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from config import paths
from config.paths import ENV_PREFIX, STACK_ENV_FILE
from execution.health_files import DEFAULT_HEALTH_DIR, DEFAULT_HEALTH_INTERVAL_S

__all__ = [
    "ENV_PREFIX",
    "EXTRA_TASK_MODULES_ENV",
    "MAX_BROKER_NODES",
    "STACK_ENV_FILE",
    "Settings",
    "SettingsError",
    "get_settings",
    "project_root",
    "stack_dir",
]

# The most RabbitMQ nodes a local stack runs: node n's ports are node 1's plus n - 1, and the
# next range of ports begins 10 above.
MAX_BROKER_NODES = 9

# What tests, `switchyard bench` and `switchyard chaos` set for their workers (see
# `Settings.extra_task_modules`).
EXTRA_TASK_MODULES_ENV = f"{ENV_PREFIX}EXTRA_TASK_MODULES"


def project_root() -> Path:
    """The checkout this package runs from, or the working directory when installed."""
    return Path(paths.project_root_dir())


def stack_dir() -> Path:
    """Where the local stack keeps its data, logs and generated secrets."""
    return Path(paths.stack_dir_path())


class Settings(BaseSettings):
    """What varies per deployment. Secrets arrive in URLs, never in code."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    broker_url: str = Field(
        default="",
        description="AMQP URL of the broker, vhost included: amqp://user:pass@host:5672/vhost",
    )
    pool_broker_urls: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object, pool name -> AMQP URL of that pool's own broker user; "
        "`topology declare` creates the users, allowed only their pool's queues",
    )
    pool_broker_url: str = Field(
        default="",
        description="A worker's own pool broker URL; when set, the worker connects with it "
        "instead of broker_url",
    )
    broker_nodes: int = Field(
        default=1,
        ge=1,
        le=MAX_BROKER_NODES,
        description="RabbitMQ nodes `switchyard stack up` starts; 3 forms a cluster whose quorum "
        "queues have three replicas (`stack up --broker-nodes` overrides it)",
    )
    broker_failover_hosts: str = Field(
        default="",
        description="Comma-separated host:port of the broker's other nodes; workers and the "
        "producer try them in turn when their node fails (written by `stack up` for a cluster)",
    )
    broker_api_url: str = Field(
        default="",
        description="RabbitMQ management API with credentials: http://user:pass@host:15672",
    )
    database_url: str = Field(
        default="",
        description="PostgreSQL URL of the runtime role, which reads and writes results only",
    )
    migration_database_url: str = Field(
        default="",
        description="PostgreSQL URL of the role that owns the schema and runs migrations",
    )
    result_backend: Literal["switchyard", "stock"] = Field(
        default="switchyard",
        description="switchyard: JSON results, NOTIFY wake-ups, chord counters; "
        "stock: Celery's database backend, kept for comparison",
    )
    broker_consumer_timeout_s: int = Field(
        default=1800,
        gt=0,
        description="The broker's consumer_timeout; no task time limit may reach it",
    )
    dlq_max_replays: int = Field(
        default=3,
        ge=0,
        description="Replays a dead letter may have; `dlq replay` parks one replayed this "
        "often in `<queue>.parked` with the reason instead of replaying it again",
    )
    health_dir: str = Field(
        default=DEFAULT_HEALTH_DIR,
        description="Where a worker keeps its liveness and readiness files for exec probes",
    )
    health_interval_s: float = Field(
        default=DEFAULT_HEALTH_INTERVAL_S,
        gt=0,
        description="How often a consuming worker touches its liveness file",
    )
    metrics_port: int = Field(
        default=9808,
        ge=0,
        le=65535,
        description="Port of the /metrics endpoint every worker pool and beat serves; 0: none",
    )
    metrics_host: str = Field(
        default="0.0.0.0",  # noqa: S104 - a pod's metrics must be reachable by Prometheus
        description="Address the worker and beat /metrics endpoints listen on",
    )
    exporter_port: int = Field(
        default=9809,
        ge=1,
        le=65535,
        description="Port of `switchyard exporter`, which serves the queue metrics",
    )
    api_host: str = Field(
        default="127.0.0.1",
        description="Address `switchyard api` listens on (0.0.0.0 in a pod)",
    )
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of `switchyard api`")
    api_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object, client name -> bearer token allowed to enqueue and read",
    )
    api_read_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object, client name -> bearer token allowed only to read task states",
    )
    api_broker_url: str = Field(
        default="",
        description="AMQP URL of the API's own broker user, allowed only to publish tasks; "
        "broker_url when empty",
    )
    api_idempotency_ttl_s: int = Field(
        default=86400,
        gt=0,
        description="How long an Idempotency-Key keeps answering with its first task id",
    )
    api_wait_max_s: float = Field(
        default=60.0,
        gt=0,
        description="The longest `GET /tasks/{id}?wait=` a client may ask for",
    )

    inventory_api_url: str = Field(
        default="",
        description="Base URL of the inventory service that sync_inventory_webhook calls",
    )
    external_api_url: str = Field(
        default="",
        description="Base URL of the rate-limited external API",
    )
    maintenance_interval_s: int | None = Field(
        default=None,
        gt=0,
        description="Run nightly maintenance every N seconds instead of at 02:30 UTC (tests)",
    )
    extra_task_modules: str = Field(
        default="",
        description="Comma-separated task modules a worker imports besides the production "
        "ones: the probe, fault and benchmark tasks of tests, `bench` and `chaos`; empty in "
        "production",
    )
    task_always_eager: bool = Field(
        default=False,
        description="Run tasks in the calling process, without broker or workers (unit tests)",
    )

    def with_failover(self, url: str) -> str:
        """`url`, then the same URL on each of `broker_failover_hosts`, `;`-separated: the
        failover list kombu connects from, moving on to the next when a node fails."""
        hosts = [h.strip() for h in self.broker_failover_hosts.split(",") if h.strip()]
        if not url or not hosts or ";" in url:
            return url
        parts = urllib.parse.urlsplit(url)
        credentials, _, _ = parts.netloc.rpartition("@")
        prefix = f"{credentials}@" if credentials else ""
        others = [urllib.parse.urlunsplit(parts._replace(netloc=prefix + h)) for h in hosts]
        return ";".join([url, *others])

    def extra_task_module_names(self) -> tuple[str, ...]:
        """`extra_task_modules` as module names, blanks dropped."""
        return tuple(n.strip() for n in self.extra_task_modules.split(",") if n.strip())

    def require_pool_url(self, pool: str) -> None:
        """Fail when a worker of `pool` would connect as the producer: pools have broker
        users of their own here (`pool_broker_urls`), and this worker got none.

        Raises:
            SettingsError: naming the pool and the command that creates its user.
        """
        if self.pool_broker_urls and not self.pool_broker_url:
            state = "has one" if pool in self.pool_broker_urls else "has none"
            raise SettingsError(
                f"pool {pool!r}: no broker user of its own ({ENV_PREFIX}POOL_BROKER_URL is "
                f"not set; {ENV_PREFIX}POOL_BROKER_URLS {state} for it). Run `switchyard "
                "apply` to create it and start the pool with `switchyard run`; it will not "
                "connect as the producer's user"
            )

    def require(self, *names: str) -> None:
        """Fail with the variables to set when a command needs settings that are empty."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            wanted = ", ".join(ENV_PREFIX + n.upper() for n in missing)
            raise SettingsError(
                f"{wanted} not set: run `switchyard stack up` for a local stack, "
                "or export them to use existing services"
            )


class SettingsError(RuntimeError):
    """A setting a command needs is missing or unusable."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process: environment first, then the local stack's env file."""
    env_file = stack_dir() / STACK_ENV_FILE
    return Settings(_env_file=env_file if env_file.is_file() else None)
