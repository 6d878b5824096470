"""Where the local stack lives and which loopback ports it takes.

The ports are not the services' defaults, so the stack runs beside a system RabbitMQ or
PostgreSQL without a clash. They are defined here once; URLs are derived from them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import ENV_PREFIX, stack_dir

HOST = "127.0.0.1"
PORT_OFFSET_ENV = f"{ENV_PREFIX}STACK_PORT_OFFSET"

RABBIT_NODENAME = "switchyard@localhost"
VHOST = "switchyard"
BROKER_ADMIN_USER = "switchyard-admin"
BROKER_APP_USER = "switchyard"

DATABASE = "switchyard"
DB_SUPERUSER = "switchyard_super"
DB_OWNER_ROLE = "switchyard_owner"
DB_APP_ROLE = "switchyard_app"


@dataclass(frozen=True)
class Ports:
    """Loopback ports of one stack; an offset moves them all, for two stacks side by side."""

    offset: int = 0

    @classmethod
    def from_environment(cls) -> Ports:
        return cls(int(os.environ.get(PORT_OFFSET_ENV, "0")))

    @property
    def amqp(self) -> int:
        return 5680 + self.offset

    @property
    def management(self) -> int:
        return 15680 + self.offset

    @property
    def rabbit_prometheus(self) -> int:
        return 15690 + self.offset

    @property
    def rabbit_dist(self) -> int:
        return 25680 + self.offset

    @property
    def epmd(self) -> int:
        return 4380 + self.offset

    @property
    def postgres(self) -> int:
        return 5440 + self.offset

    @property
    def prometheus(self) -> int:
        return 9490 + self.offset

    @property
    def beat_metrics(self) -> int:
        """Worker pools serve /metrics on the ports after this one, in declaration order."""
        return 9600 + self.offset

    def pool_metrics(self, index: int) -> int:
        return self.beat_metrics + 1 + index

    @property
    def exporter(self) -> int:
        return 9650 + self.offset

    @property
    def flower(self) -> int:
        return 5600 + self.offset

    @property
    def api(self) -> int:
        """The producer API of `switchyard run`."""
        return 8680 + self.offset

    @property
    def api_metrics(self) -> int:
        return 9660 + self.offset


@dataclass(frozen=True)
class StackLayout:
    """The directories, files and ports of one stack."""

    root: Path
    ports: Ports = field(default_factory=Ports)

    @classmethod
    def default(cls) -> StackLayout:
        return cls(stack_dir(), Ports.from_environment())

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
