"""The faults the suite injects, each against running worker groups."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ops.chaos.proxy import ChaosProxy
from ops.stack.manager import Stack
from ops.stack.processes import children, wait_until
from ops.stack.rabbitmq import RabbitNode
from ops.supervisor import Process, Supervisor

HEARTBEAT_DETECTION_LIMIT_S = 2 * 10 + 5  # two heartbeats, plus the check interval
CLUSTER_NODES = 3  # the cluster faults need a majority left when one node is down
DEFAULT_NODE_OUTAGE_S = 30.0
KILLED_NODE_DOWN_S = 5.0  # a killed node stays down this long: clients notice and move on


@dataclass
class FaultContext:
    """What a fault can act on; `restart_group` replaces a stopped worker group."""

    stack: Stack
    supervisor: Supervisor
    proxy: ChaosProxy | None
    restart_group: Callable[[Process], Process]
    tasks_in_group: bool = False  # an inline pool: the group's own process runs the tasks
    node_outage_s: float = DEFAULT_NODE_OUTAGE_S  # how long broker-minority-loss keeps it down
    consumers: Callable[[], int] = lambda: 0  # the pool queue's consumers, on any live node
    confirmed: Callable[[], int] = lambda: 0  # publishes confirmed so far
    notes: list[str] = field(default_factory=list)
    # While a node was down: seconds until every group consumed again (inf: not within
    # the heartbeat limit), and publishes the producer got confirmed meanwhile.
    failover_s: list[float] = field(default_factory=list)
    outage_confirms: int = 0

    def node_down(self, node: RabbitNode, how: str, hold_s: float) -> None:
        """Take `node` down (`how`: kill or stop) for at least `hold_s`, measuring meanwhile
        whether the worker groups consume again from the other nodes and the producer's
        publishes are confirmed by them, then start it again."""
        groups = len(self.groups())
        confirmed_before = self.confirmed()
        down = time.monotonic()
        if how == "kill":
            node.kill()
        else:
            node.stop(port_mapper=False)
        back = wait_until(lambda: self.consumers() >= groups, HEARTBEAT_DETECTION_LIMIT_S * 2)
        took = time.monotonic() - down if back else float("inf")
        self.failover_s.append(took)
        time.sleep(max(0.0, hold_s - (time.monotonic() - down)))
        confirms = self.confirmed() - confirmed_before
        self.outage_confirms += confirms
        self.notes.append(
            f"{how} {node.nodename.split('@')[0]}: groups consuming {took:.1f}s after, "
            f"{confirms} confirmed while down"
        )
        node.start()

    def groups(self) -> list[Process]:
        return [p for p in self.supervisor.processes if p.alive and p.name.startswith("worker")]


def sigkill_mid_task(ctx: FaultContext) -> None:
    """SIGKILL every process running tasks, mid-task, as the OOM killer would: the pool
    children of a prefork group; an inline group itself, which is then started again as
    Kubernetes restarts a container."""
    for group in ctx.groups():
        if ctx.tasks_in_group:
            group.popen.kill()
            group.popen.wait(timeout=30)
            ctx.restart_group(group)
            continue
        for child in children(group.popen.pid):
            os.kill(child, signal.SIGKILL)


def sigterm_group(ctx: FaultContext) -> None:
    """Warm shutdown of one worker group (running tasks finish), then a new one starts."""
    group = ctx.groups()[0]
    group.popen.send_signal(signal.SIGTERM)
    group.popen.wait(timeout=60)
    ctx.restart_group(group)


def broker_restart(ctx: FaultContext) -> None:
    """Stop RabbitMQ and start it again while tasks run and are published."""
    ctx.stack.rabbit.stop()
    time.sleep(1)
    ctx.stack.rabbit.start()


def broker_node_kill(ctx: FaultContext) -> None:
    """SIGKILL the cluster node leading the most queues, as a crashed machine, then start it
    again: its quorum queues elect leaders among the other two, its clients fail over."""
    ctx.node_down(ctx.stack.broker.busiest_leader(), "kill", KILLED_NODE_DOWN_S)


def broker_rolling_restart(ctx: FaultContext) -> None:
    """Stop and start every node, one after another, as an upgrade does; each waits until
    the cluster has it running again before the next stops, so a majority always remains."""
    cluster = ctx.stack.broker
    for node in cluster.nodes:
        node.stop(port_mapper=False)
        node.start()
        wait_until(cluster.all_running, 60, interval=1.0)


def broker_minority_loss(ctx: FaultContext) -> None:
    """Stop the node holding the most client connections for `node_outage_s`, then start it:
    the two left keep a majority and carry every quorum queue, and its clients, meanwhile."""
    ctx.node_down(ctx.stack.broker.busiest_clients(), "stop", ctx.node_outage_s)


def database_restart(ctx: FaultContext) -> None:
    """Stop PostgreSQL (fast shutdown) and start it again while tasks write."""
    ctx.stack.postgres.stop()
    time.sleep(1)
    ctx.stack.postgres.start()


def connection_reset(ctx: FaultContext) -> None:
    """Abort the workers' broker connections with a TCP reset."""
    assert ctx.proxy is not None
    ctx.proxy.reset()


def connection_blackhole(ctx: FaultContext) -> None:
    """Make the workers' connections go silent; they must notice within two heartbeats."""
    proxy = ctx.proxy
    assert proxy is not None
    before = len(proxy.accepted)
    cut = time.monotonic()
    proxy.blackhole()
    noticed = wait_until(lambda: len(proxy.accepted) > before, HEARTBEAT_DETECTION_LIMIT_S * 2)
    took = proxy.accepted[-1] - cut if noticed else float("inf")
    ctx.notes.append(f"reconnected {took:.1f}s after blackhole")


@dataclass(frozen=True)
class Scenario:
    """A fault. `needs_local_stack`: it stops the local broker or database;
    `needs_cluster`: it stops nodes of a local broker of `CLUSTER_NODES` (the database may be
    external); `breaks_all_nodes`: one fault stops every broker node in turn, so it may
    break each worker group's connection once per node, not once."""

    name: str
    inject: Callable[[FaultContext], None]
    needs_proxy: bool = False
    needs_local_stack: bool = False
    needs_cluster: bool = False
    breaks_all_nodes: bool = False


SCENARIOS = (
    Scenario("sigkill-mid-task", sigkill_mid_task),
    Scenario("sigterm-group", sigterm_group),
    Scenario("broker-restart", broker_restart, needs_local_stack=True),
    Scenario("database-restart", database_restart, needs_local_stack=True),
    Scenario("connection-reset", connection_reset, needs_proxy=True),
    Scenario("connection-blackhole", connection_blackhole, needs_proxy=True),
    Scenario("broker-node-kill", broker_node_kill, needs_cluster=True),
    Scenario(
        "broker-rolling-restart", broker_rolling_restart, needs_cluster=True, breaks_all_nodes=True
    ),
    Scenario("broker-minority-loss", broker_minority_loss, needs_cluster=True),
)
CLUSTER_SCENARIOS = tuple(s.name for s in SCENARIOS if s.needs_cluster)
