"""Where the local stack lives and which loopback ports it takes.

The ports are not the services' defaults, so the stack runs beside a system RabbitMQ or
PostgreSQL without a clash. They are defined here once; URLs are derived from them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import ENV_PREFIX, MAX_BROKER_NODES, stack_dir

HOST = "127.0.0.1"
PORT_OFFSET_ENV = f"{ENV_PREFIX}STACK_PORT_OFFSET"

RABBIT_NODENAME = "switchyard@localhost"
# A cluster's nodes are `switchyard-<n>@<name host>`; their data lives apart from the single
# node's, so switching between one node and a cluster never meets the other's database.
RABBIT_CLUSTER_NODE = "switchyard-{index}"
RABBIT_NAME_HOST = "localhost"
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
        """The first (or only) broker node's AMQP port; node n listens on `node(n).amqp`."""
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

    def node(self, index: int) -> NodePorts:
        """The ports of broker node `index` (1-based): each of node 1's, plus index - 1."""
        if not 1 <= index <= MAX_BROKER_NODES:
            raise ValueError(f"broker node {index}: nodes are numbered 1-{MAX_BROKER_NODES}")
        step = index - 1
        return NodePorts(
            amqp=self.amqp + step,
            management=self.management + step,
            prometheus=self.rabbit_prometheus + step,
            dist=self.rabbit_dist + step,
            epmd=self.epmd,
        )

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
class NodePorts:
    """The ports one RabbitMQ node listens on. Nodes on one host share its port mapper."""

    amqp: int
    management: int
    prometheus: int
    dist: int
    epmd: int


@dataclass(frozen=True)
class BrokerNode:
    """One RabbitMQ node of the stack: its name, directory, ports and the address it binds.

    `host` is where its listeners bind and clients reach it; `name_host` is the host part of
    its Erlang node name, which the other nodes resolve. Both default to loopback; a node
    placed in a network namespace gets that namespace's address and a name resolving to it.
    """

    index: int
    nodename: str
    dir: Path
    ports: NodePorts
    host: str = HOST

    @property
    def amqp_address(self) -> str:
        return f"{self.host}:{self.ports.amqp}"


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
        """The single node's directory; a cluster's nodes live under `rabbitmq-cluster`."""
        return self.root / "rabbitmq"

    @property
    def rabbit_cluster_dir(self) -> Path:
        return self.root / "rabbitmq-cluster"

    def broker_node(
        self, index: int, count: int, host: str = HOST, name_host: str = RABBIT_NAME_HOST
    ) -> BrokerNode:
        """Node `index` (1-based) of a broker of `count` nodes; `count` 1 is the single node."""
        if not 1 <= index <= count:
            raise ValueError(f"broker node {index} of {count}")
        if count == 1:
            nodename = RABBIT_NODENAME.replace("@localhost", f"@{name_host}")
            return BrokerNode(1, nodename, self.rabbit_dir, self.ports.node(1), host)
        name = RABBIT_CLUSTER_NODE.format(index=index)
        return BrokerNode(
            index,
            f"{name}@{name_host}",
            self.rabbit_cluster_dir / f"node-{index}",
            self.ports.node(index),
            host,
        )

    def broker_nodes(self, count: int) -> list[BrokerNode]:
        """Every node of a broker of `count` nodes, on loopback."""
        return [self.broker_node(i, count) for i in range(1, count + 1)]

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def postgres_data(self) -> Path:
        return self.postgres_dir / "data"

    @property
    def postgres_log(self) -> Path:
        return self.postgres_dir / "postgres.log"
