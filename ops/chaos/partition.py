"""The `broker-partition` scenario: one node of a three-node cluster cut off from the others.

The cluster runs on namespaced hosts (`ops.stack.namespaced_cluster`), so the cut is a real
network partition: blackhole routes between the cut host and its two peers, both ways, while
clients in the root namespace still reach every host. One worker group starts on the node that
will be cut, the other and the publisher on node 1, each with the other nodes as failover.

Per fault: a probe client connects to the node about to be cut; the cut lasts `CUT_S` (three
net ticks, so every node notices); the fault records when the cut node stopped accepting
connections (pause_minority), what its connected client saw and when, that the majority kept
serving (two running nodes seen from node 1), then heals and waits until the node is back,
the cluster is whole and every worker group consumes again: a worker left stuck on the paused
node fails the fault.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pika

from config.settings import ENV_PREFIX, Settings, get_settings
from ops.broker_users import POOL_BROKER_URL_ENV
from ops.chaos.faults import FaultContext, Scenario
from ops.stack import layout as L
from ops.stack.accounts import StackError
from ops.stack.manager import BROKER_ENV, Stack
from ops.stack.namespaced_cluster import NET_TICKTIME_S, NamespacedCluster, on_host
from ops.stack.processes import port_open, wait_until
from routing.declaration import TOPOLOGY
from routing.management_api import ManagementAPI, ManagementAPIError, quote

CUT_HOST = 3
CUT_S = 3 * NET_TICKTIME_S
HEAL_TIMEOUT_S = 180
FAILOVER_ENV = f"{ENV_PREFIX}BROKER_FAILOVER_HOSTS"
POOL_URLS_ENV = f"{ENV_PREFIX}POOL_BROKER_URLS"
POOL = "default"


@dataclass
class MinorityProbe:
    """A client connected to the node about to be cut: when and how its connection ends."""

    url: str
    connection: pika.BlockingConnection | None = None
    closed_after: float | None = None
    reason: str = ""

    def open(self) -> MinorityProbe:
        params = pika.URLParameters(self.url)
        params.heartbeat = 10
        self.connection = pika.BlockingConnection(params)
        return self

    def poll(self, since: float) -> bool:
        """Serve the connection briefly; True once it has closed (time and reason kept)."""
        if self.closed_after is not None or self.connection is None:
            return True
        try:
            self.connection.process_data_events(time_limit=0.2)
        except pika.exceptions.ConnectionClosedByBroker as exc:
            self.closed_after = time.monotonic() - since
            self.reason = f"closed by the broker, {exc.reply_code} {exc.reply_text}"
            return True
        except pika.exceptions.AMQPError as exc:
            self.closed_after = time.monotonic() - since
            self.reason = f"lost, {type(exc).__name__}"
            return True
        return False

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            self.connection.close()


def broker_partition(ctx: FaultContext) -> None:
    """Cut `CUT_HOST` off from its peers for `CUT_S`, heal, and note what each side did."""
    cluster = NamespacedCluster.for_stack(ctx.stack)
    cut_node = cluster.node(CUT_HOST)
    probe = MinorityProbe(cut_node.app_broker_url).open()
    address, port = cut_node.host, cut_node.ports.amqp
    cut = time.monotonic()
    cluster.network.cut_from_peers(CUT_HOST)
    try:
        refused_after: float | None = None
        majority_refused = 0  # connection attempts to nodes 1 and 2 that failed during the cut
        while time.monotonic() - cut < CUT_S:
            probe.poll(cut)
            if refused_after is None and not port_open(address, port, timeout=0.3):
                refused_after = time.monotonic() - cut
            majority_refused += sum(
                not port_open(cluster.node(i).host, port, timeout=1) for i in (1, 2)
            )
            time.sleep(0.2)
        probe.poll(cut)
        majority = _running_nodes(cluster, 1)  # as node 1 sees the cluster at the cut's end
    finally:
        cluster.network.heal(CUT_HOST)
        probe.close()
    healed = time.monotonic()
    back = wait_until(lambda: port_open(address, port), HEAL_TIMEOUT_S)
    whole = wait_until(lambda: _running_nodes(cluster, 1) == 3, HEAL_TIMEOUT_S, interval=1)
    groups = len(ctx.groups())
    consuming = wait_until(lambda: _consumers(cluster) >= groups, HEAL_TIMEOUT_S, interval=1)
    ctx.notes.append(
        f"cut node refused connections {_s(refused_after)} after the cut; its client "
        f"{probe.reason or 'still open'} after {_s(probe.closed_after)}; node 1 saw "
        f"{majority} of 3 running, nodes 1-2 refused {majority_refused} connects; cut node "
        f"back {_s(time.monotonic() - healed if back else None)} after heal"
    )
    if refused_after is None or majority != 2 or majority_refused or not (back and whole):
        raise StackError(
            f"partition: paused={refused_after is not None} majority={majority} "
            f"majority_refused={majority_refused} back={back} whole={whole}"
        )
    if not consuming:
        raise StackError(f"after the partition {_consumers(cluster)} of {groups} groups consume")


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f}s"


def _running_nodes(cluster: NamespacedCluster, seen_from: int) -> int:
    node = cluster.node(seen_from)
    try:
        nodes = ManagementAPI(node.admin_api_url, timeout=2).get("nodes")
    except ManagementAPIError:
        return 0
    return sum(1 for n in nodes if isinstance(n, dict) and n.get("running"))


def _consumers(cluster: NamespacedCluster) -> int:
    api = cluster.broker.api()
    if api is None:
        return 0
    try:
        queue = api.get(f"queues/{quote(L.VHOST)}/{quote(TOPOLOGY.default_queue)}")
    except ManagementAPIError:
        return 0
    return int(queue.get("consumers", 0)) if isinstance(queue, dict) else 0


def group_env(cluster: NamespacedCluster, index: int) -> dict[str, str]:
    """Worker group `index`'s broker: group 0 starts on the node that will be cut, the others
    on node 1; every group has the remaining nodes as failover."""
    first = CUT_HOST if index == 0 else 1
    url = json.loads(os.environ[POOL_URLS_ENV])[POOL].split(";")[0]
    return {
        POOL_BROKER_URL_ENV: on_host(url, cluster.network.host(first).address),
        FAILOVER_ENV: ",".join(cluster.failover_hosts(first)),
    }


@contextmanager
def on_host_cluster(stack: Stack) -> Iterator[tuple[NamespacedCluster, Settings]]:
    """The namespaced cluster up, and this process's settings pointing at it (node 1 first);
    on exit the nodes stop, the hosts go and the settings are restored.

    Raises:
        StackError: not root, no `ip netns`, or the cluster did not form.
    """
    cluster = NamespacedCluster.for_stack(stack)
    first = cluster.network.host(1).address
    saved = {k: os.environ.get(k) for k in (BROKER_ENV, FAILOVER_ENV, POOL_URLS_ENV)}
    try:
        cluster.up()
        os.environ[BROKER_ENV] = on_host(stack.rabbit.app_broker_url, first)
        os.environ[FAILOVER_ENV] = ",".join(cluster.failover_hosts(1))
        os.environ[POOL_URLS_ENV] = json.dumps(
            {pool: on_host(url, first) for pool, url in stack.pool_broker_urls().items()}
        )
        get_settings.cache_clear()
        yield cluster, get_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        cluster.down()


# Scenarios that run on the namespaced cluster rather than on the stack's own broker.
HOST_SCENARIOS = (Scenario("broker-partition", broker_partition),)
