"""The local broker as a set of RabbitMQ nodes: one, or a cluster joined with `join_cluster`.

A cluster's nodes are launched together (nodes that stopped together wait for each other at
boot), then every node that is not yet a member joins the first. Quorum queues declared once
all have joined get a replica on each node (RabbitMQ's default group size is the cluster's
size), so the stack declares nothing before `up` returns.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ops.stack import layout as L
from ops.stack.accounts import StackError
from ops.stack.rabbitmq import RabbitNode
from routing.management_api import ManagementAPI, ManagementAPIError, quote


@dataclass(frozen=True)
class NodeState:
    """One node as `stack status` shows it."""

    nodename: str
    pid: int | None
    answers: bool
    running: bool  # as the cluster sees it
    partitioned_from: tuple[str, ...]
    address: str


@dataclass(frozen=True)
class QueueReplicas:
    """Where a queue lives: a quorum queue's leader and members, a classic queue's node."""

    name: str
    type: str
    leader: str
    members: tuple[str, ...]
    online: tuple[str, ...]


class RabbitCluster:
    """The stack's broker nodes; with one node, just that node."""

    def __init__(self, nodes: Sequence[RabbitNode]) -> None:
        if not nodes:
            raise ValueError("a broker has at least one node")
        self.nodes = list(nodes)

    @property
    def first(self) -> RabbitNode:
        return self.nodes[0]

    def node(self, nodename: str) -> RabbitNode:
        for node in self.nodes:
            if node.nodename == nodename:
                return node
        raise StackError(f"no broker node {nodename!r} in this stack")

    def start(self) -> bool:
        """Launch every node that is not running, wait for all, then join the cluster;
        True when this call started any node.

        Raises:
            StackError: a node did not come up or could not join.
        """
        started = [node.launch() for node in self.nodes]
        for node in self.nodes:
            node.wait_answering()
        self.join()
        return any(started)

    def stop(self) -> bool:
        """Stop every node, the first last, then the port mappers; True if any ran."""
        ran = [node.stop(port_mapper=False) for node in reversed(self.nodes)]
        for host_node in {n.host: n for n in self.nodes}.values():
            host_node.stop_port_mapper()
        return any(ran)

    def join(self) -> list[str]:
        """Make every node a member of the first node's cluster; return the nodes that joined.

        Raises:
            StackError: `rabbitmqctl join_cluster` failed.
        """
        if len(self.nodes) == 1:
            return []
        members = set(self.members())
        joined = []
        for node in self.nodes[1:]:
            if node.nodename in members:
                continue
            node.ctl("stop_app")
            node.ctl("join_cluster", self.first.nodename)
            node.ctl("start_app")
            node.wait_answering()
            joined.append(node.nodename)
        return joined

    def members(self) -> list[str]:
        """The cluster's disc nodes as the first node knows them.

        Raises:
            StackError: the first node does not answer `rabbitmqctl`.
        """
        status = json.loads(self.first.ctl("cluster_status", "--formatter", "json"))
        return [str(n) for n in status.get("disk_nodes", [])]

    def api(self) -> ManagementAPI | None:
        """The management API of the first node that answers, or None when none does."""
        for node in self.nodes:
            if node.answers():
                return ManagementAPI(node.admin_api_url, timeout=5)
        return None

    def node_states(self) -> list[NodeState]:
        api = self.api()
        seen: dict[str, Any] = {}
        if api is not None:
            try:
                seen = {str(n["name"]): n for n in api.get("nodes")}
            except ManagementAPIError:
                seen = {}
        states = []
        for node in self.nodes:
            info = seen.get(node.nodename, {})
            states.append(
                NodeState(
                    node.nodename,
                    node.pid(),
                    node.answers(),
                    bool(info.get("running", False)),
                    tuple(str(p) for p in info.get("partitions", [])),
                    f"{node.host}:{node.ports.amqp}",
                )
            )
        return states

    def all_running(self) -> bool:
        """Every node runs, as the cluster sees it, with no partition."""
        states = self.node_states()
        return all(n.running and not n.partitioned_from for n in states)

    def queue_replicas(self, vhost: str = L.VHOST) -> list[QueueReplicas]:
        """Every queue of `vhost` with its leader and members, from any answering node.

        Raises:
            StackError: no node answers.
        """
        api = self.api()
        if api is None:
            raise StackError("no broker node answers")
        queues = api.get(f"queues/{quote(vhost)}?columns=name,type,node,leader,members,online")
        return [
            QueueReplicas(
                str(q["name"]),
                str(q.get("type", "classic")),
                str(q.get("leader") or q.get("node") or ""),
                tuple(str(m) for m in q.get("members") or [q.get("node")]),
                tuple(str(m) for m in q.get("online") or []),
            )
            for q in queues
        ]

    def busiest_leader(self, vhost: str = L.VHOST) -> RabbitNode:
        """The node that leads the most queues (quorum leaders and classic queues' homes)."""
        counts: dict[str, int] = {n.nodename: 0 for n in self.nodes}
        for queue in self.queue_replicas(vhost):
            if queue.leader in counts:
                counts[queue.leader] += 1
        return self.node(max(counts, key=lambda name: counts[name]))

    def busiest_clients(self) -> RabbitNode:
        """The node holding the most client connections (the first node if none answers)."""
        api = self.api()
        counts: dict[str, int] = {n.nodename: 0 for n in self.nodes}
        for conn in api.get("connections?columns=node") if api is not None else []:
            if conn.get("node") in counts:
                counts[str(conn["node"])] += 1
        return self.node(max(counts, key=lambda name: counts[name]))

    def failover_hosts(self) -> list[str]:
        """host:port of every node but the first: clients' failover list after the first."""
        return [n.node.amqp_address for n in self.nodes[1:]]
