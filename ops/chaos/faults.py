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
from ops.supervisor import Process, Supervisor

HEARTBEAT_DETECTION_LIMIT_S = 2 * 10 + 5  # two heartbeats, plus the check interval


@dataclass
class FaultContext:
    """What a fault can act on; `restart_group` replaces a stopped worker group."""

    stack: Stack
    supervisor: Supervisor
    proxy: ChaosProxy | None
    restart_group: Callable[[Process], Process]
    tasks_in_group: bool = False  # an inline pool: the group's own process runs the tasks
    notes: list[str] = field(default_factory=list)

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
    name: str
    inject: Callable[[FaultContext], None]
    needs_proxy: bool = False
    needs_local_stack: bool = False


SCENARIOS = (
    Scenario("sigkill-mid-task", sigkill_mid_task),
    Scenario("sigterm-group", sigterm_group),
    Scenario("broker-restart", broker_restart, needs_local_stack=True),
    Scenario("database-restart", database_restart, needs_local_stack=True),
    Scenario("connection-reset", connection_reset, needs_proxy=True),
    Scenario("connection-blackhole", connection_blackhole, needs_proxy=True),
)
