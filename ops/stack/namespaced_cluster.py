"""A RabbitMQ cluster whose nodes are separate hosts (network namespaces).

Each node runs inside its own namespaced host (`ops.stack.netns`) with its own port mapper,
and is named by its address (`switchyard-1@10.213.<n>.11`, long names): no /etc/hosts entry
is needed, every node reaches every other by address, and a cut between two hosts is a real
network partition, not a killed process. The nodes are the stack's own `RabbitNode`s and are
clustered as the loopback cluster is (`RabbitCluster.join`); what differs is where their
processes run: every process a node starts (the server, `rabbitmqctl`, the port mapper) enters
the node's namespace before it drops to the service account.

The nodes get a low `net_ticktime` (`NET_TICKTIME_S`), so a cut is noticed in tens of seconds
rather than RabbitMQ's default minute; partition handling (`pause_minority`) is every node's,
from `config.broker_node`. Every port is the same on every host, since each host has its
own port space; clients in the root namespace reach a node at its host's address.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from ops.stack import layout as L
from ops.stack.accounts import Account
from ops.stack.cluster import RabbitCluster
from ops.stack.manager import Stack
from ops.stack.netns import Host, HostNetwork
from ops.stack.rabbitmq import RabbitNode

NET_TICKTIME_S = 10
NODES = 3
NODES_DIR = "rabbitmq-hosts"  # under the stack directory; apart from the loopback cluster's


@dataclass(frozen=True)
class HostAccount(Account):
    """The service account, entered inside one namespaced host: every child process a node
    starts through `demote()` runs in that host's network namespace."""

    network: HostNetwork | None = None
    host: int = 1

    def demote(self) -> Callable[[], None] | None:
        assert self.network is not None
        return self.network.enter(self.host, then=super().demote())


class NamespacedNode(RabbitNode):
    """One cluster node inside `host`."""

    def __init__(self, stack: Stack, network: HostNetwork, host: Host) -> None:
        layout = stack.layout
        node = L.BrokerNode(
            host.index,
            f"{L.RABBIT_CLUSTER_NODE.format(index=host.index)}@{host.address}",
            layout.root / NODES_DIR / f"node-{host.index}",
            layout.ports.node(1),  # the same ports in every host's own port space
            host.address,
        )
        super().__init__(node, stack.rabbit.creds, stack.rabbit.consumer_timeout_s)
        self.network = network

    @cached_property
    def account(self) -> Account:
        plain = super().account
        return HostAccount(plain.name, plain.uid, plain.gid, self.network, self.node.index)

    def _write_config(self) -> None:
        super()._write_config()
        conf = self.dir / "rabbitmq.conf"
        conf.write_text(conf.read_text() + f"net_ticktime = {NET_TICKTIME_S}\n")

    def _environment(self) -> dict[str, str]:
        return dict(super()._environment(), RABBITMQ_USE_LONGNAME="true")


@dataclass
class NamespacedCluster:
    """`NODES` nodes on as many namespaced hosts; names and subnet follow the stack's offset,
    so a handle made anew (another process, after a crash) finds the same hosts and nodes."""

    stack: Stack
    network: HostNetwork

    @classmethod
    def for_stack(cls, stack: Stack) -> NamespacedCluster:
        return cls(stack, HostNetwork(stack.layout.ports.offset, NODES))

    @cached_property
    def broker(self) -> RabbitCluster:
        return RabbitCluster(
            [NamespacedNode(self.stack, self.network, h) for h in self.network.hosts]
        )

    def node(self, index: int) -> RabbitNode:
        return self.broker.nodes[index - 1]

    def up(self) -> None:
        """Make the hosts, start and join the nodes, create the users (they replicate).

        Raises:
            StackError: not root, no `ip netns`, or a node did not come up or join.
        """
        self.network.up()
        self.broker.start()
        urls = self.stack.pool_broker_urls()
        self.broker.first.provision(
            {pool: on_host(url, self.network.host(1).address) for pool, url in urls.items()},
            on_host(self.stack.producer_broker_url(), self.network.host(1).address),
        )

    def down(self) -> None:
        """Stop every node, then remove the hosts; safe when nothing runs."""
        if self.network.exists():
            self.broker.stop()
        self.network.down()

    def failover_hosts(self, first: int) -> list[str]:
        """host:port of every node but `first`, in order after it: a client's failover list."""
        hosts = [f"{h.address}:{self.stack.layout.ports.node(1).amqp}" for h in self.network.hosts]
        return hosts[first:] + hosts[: first - 1]


def on_host(url: str, address: str) -> str:
    """`url` with its host replaced by `address` (user, port and path kept)."""
    parts = urllib.parse.urlsplit(url)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    port = hostport.rsplit(":", 1)[1] if ":" in hostport else ""
    netloc = (f"{userinfo}@" if userinfo else "") + address + (f":{port}" if port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
