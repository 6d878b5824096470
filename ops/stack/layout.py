"""Where the local stack lives and which loopback ports it takes.

The ports are not the services' defaults, so the stack runs beside a system RabbitMQ or
PostgreSQL without a clash. They are defined here once; URLs are derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.settings import stack_dir

HOST = "127.0.0.1"
AMQP_PORT = 5680
MANAGEMENT_PORT = 15680
RABBIT_PROMETHEUS_PORT = 15690
RABBIT_DIST_PORT = 25680
EPMD_PORT = 4380
POSTGRES_PORT = 5440

RABBIT_NODENAME = "switchyard@localhost"
VHOST = "switchyard"
BROKER_ADMIN_USER = "switchyard-admin"
BROKER_APP_USER = "switchyard"

DATABASE = "switchyard"
DB_SUPERUSER = "switchyard_super"
DB_OWNER_ROLE = "switchyard_owner"
DB_APP_ROLE = "switchyard_app"


@dataclass(frozen=True)
class StackLayout:
    """The directories and files of one stack, all under one root."""

    root: Path

    @classmethod
    def default(cls) -> StackLayout:
        return cls(stack_dir())

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    @property
    def env_file(self) -> Path:
        return self.root / "stack.env"

    @property
    def rabbit_dir(self) -> Path:
        return self.root / "rabbitmq"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def postgres_data(self) -> Path:
        return self.postgres_dir / "data"

    @property
    def postgres_log(self) -> Path:
        return self.postgres_dir / "postgres.log"
