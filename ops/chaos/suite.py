"""Run fault scenarios against real worker groups and count every task.

Per scenario: tasks are published at a steady pace with confirms while faults are injected;
then the suite waits until every confirmed task is either applied (ledger) or dead-lettered,
or a deadline passes. lost = confirmed - applied - dead-lettered; it must be 0.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika

from config.settings import ENV_PREFIX, EXTRA_TASK_MODULES_ENV, Settings
from ops.broker_users import pool_worker_env
from ops.chaos import ledger
from ops.chaos.faults import DEFAULT_NODE_OUTAGE_S, FaultContext, Scenario
from ops.chaos.proxy import ChaosProxy
from ops.stack.manager import Stack
from ops.stack.processes import wait_until
from ops.supervisor import Process, Supervisor
from routing.declaration import TOPOLOGY
from routing.names import dlq_name
from routing.worker_command import worker_argv

POOL = "default"
SETTLE_TIMEOUT_S = 180
RESUME_TIMEOUT_S = 90  # after the last fault, every group consumes again within this


@dataclass
class Outcome:
    scenario: str
    faults: int = 0
    published: int = 0
    confirmed: int = 0
    refused: int = 0
    applied: int = 0
    dead_lettered: int = 0
    lost: int = 0
    reruns: int = 0
    rerun_bound: int = 0
    applied_twice: int = 0
    stuck: int = 0  # worker groups not consuming once the faults are over
    failover_s: list[float] = field(default_factory=list)  # see FaultContext.node_down
    outage_confirms: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.lost == 0
            and self.applied_twice == 0
            and self.reruns <= self.rerun_bound
            and self.stuck == 0
        )


@dataclass
class ChaosSuite:
    """Faults against `groups` worker groups of the default pool."""

    stack: Stack
    settings: Settings
    log_dir: Path
    groups: int = 2
    work_s: float = 0.01
    guard: bool = True  # off: effects are applied without claiming their key (shows the check)
    current: Outcome | None = None  # the scenario running now, read by the progress display
    node_outage_s: float = DEFAULT_NODE_OUTAGE_S
    # Per worker group, environment over the pool's (a cluster scenario's node to start on).
    group_env: Callable[[int], dict[str, str]] | None = None

    @property
    def broker_urls(self) -> list[str]:
        """Every broker node's URL, the first node's first (one URL for a single node)."""
        return self.settings.with_failover(self.settings.broker_url).split(";")

    def _worker_env(self, proxy: ChaosProxy | None) -> dict[str, str]:
        from ops.chaos import tasks as suite_tasks  # the Celery app, only once a suite runs

        env = {**pool_worker_env(POOL), "SWITCHYARD_BROKER_URL": self.settings.broker_url}
        env = {k: _via(v, proxy) if k.endswith("_URL") else v for k, v in env.items()}
        if proxy is not None:  # every connection goes through the proxy, none around it
            env[f"{ENV_PREFIX}BROKER_FAILOVER_HOSTS"] = ""
        env[ledger.GUARD_ENV] = "on" if self.guard else "off"
        env[EXTRA_TASK_MODULES_ENV] = suite_tasks.__name__  # the workers run apply_effect
        return env

    def run(self, scenario: Scenario, tasks: int, faults: int, publish_s: float) -> Outcome:

        run_id = uuid.uuid4().hex[:12]
        outcome = self.current = Outcome(scenario.name)
        started = time.monotonic()
        proxy = (
            ChaosProxy(_broker_address(self.settings.broker_url)).start()
            if scenario.needs_proxy
            else None
        )
        supervisor = Supervisor(self.log_dir / f"{scenario.name}-{run_id}")
        env = self._worker_env(proxy)

        def start_group(index: int) -> Process:
            own = self.group_env(index) if self.group_env is not None else {}
            return supervisor.start(f"worker-{index}", _argv(index), {**env, **own})

        def restart_group(old: Process) -> Process:
            return start_group(len(supervisor.processes))

        for index in range(self.groups):
            start_group(index)
        confirmed: set[int] = set()
        ctx = FaultContext(
            self.stack,
            supervisor,
            proxy,
            restart_group,
            tasks_in_group=TOPOLOGY.pool(POOL).kind == "inline",
            node_outage_s=self.node_outage_s,
            consumers=lambda: _consumers(self.broker_urls),
            confirmed=lambda: len(confirmed),
        )
        publisher = threading.Thread(
            target=_publish,
            kwargs={
                "run_id": run_id,
                "tasks": tasks,
                "publish_s": publish_s,
                "work_s": self.work_s,
                "confirmed": confirmed,
                "outcome": outcome,
            },
        )
        try:
            if not wait_until(lambda: _consumers(self.broker_urls) >= self.groups, 60):
                raise RuntimeError(f"the {self.groups} worker groups did not start consuming")
            publisher.start()
            for n in range(faults):
                time.sleep(publish_s / (faults + 1))
                scenario.inject(ctx)
                outcome.faults = n + 1
            outcome.stuck = stuck_groups(self.broker_urls, self.groups, outcome.notes)
            publisher.join()
            outcome.confirmed = len(confirmed)
            dead: set[int] = set()

            def settled() -> bool:
                dead.update(_drain_dead_letters(self.broker_urls, run_id))
                done = ledger.applied_keys(self.settings.database_url, run_id) | dead
                return confirmed <= done

            if not wait_until(settled, SETTLE_TIMEOUT_S, interval=1.0):
                outcome.stuck = max(outcome.stuck, _stalled(self.broker_urls, outcome.notes))
        finally:
            supervisor.stop(timeout=60)
            if proxy is not None:
                proxy.stop()
        applied = ledger.applied_keys(self.settings.database_url, run_id)
        tally = ledger.tally(self.settings.database_url, run_id)
        outcome.applied = len(applied & confirmed)
        outcome.dead_lettered = len(dead & confirmed)
        outcome.lost = len(confirmed - applied - dead)
        outcome.reruns = tally.reruns
        outcome.rerun_bound = rerun_bound(
            outcome.faults,
            self.groups,
            len(self.stack.broker.nodes) if scenario.breaks_all_nodes else 1,
        )
        outcome.applied_twice = tally.keys_applied_twice
        outcome.notes += ctx.notes
        outcome.failover_s = ctx.failover_s
        outcome.outage_confirms = ctx.outage_confirms
        unconfirmed_but_applied = len(applied - confirmed)
        if unconfirmed_but_applied:
            outcome.notes.append(f"{unconfirmed_but_applied} refused publishes arrived anyway")
        outcome.seconds = time.monotonic() - started
        return outcome


def rerun_bound(faults: int, groups: int, breaks_per_fault: int = 1) -> int:
    """The most re-runs `faults` faults can cause: each break at worst cuts every group's
    consumer connection, and the broker redelivers what that connection held unacknowledged,
    at most the pool's prefetch (prefetch multiplier x concurrency) per group. Each of those
    may have run already (its ack lost with the connection), so each may run once more.
    A fault that stops every broker node in turn (a rolling restart) is `breaks_per_fault`
    breaks: a group that failed over to the next node loses that connection too."""
    pool = TOPOLOGY.pool(POOL)
    return faults * breaks_per_fault * groups * pool.prefetch_multiplier * pool.concurrency


def _argv(index: int) -> list[str]:
    return worker_argv(TOPOLOGY.pool(POOL), index + 1)  # `default@%h-<n>`, still the pool's


def _publish(
    *,
    run_id: str,
    tasks: int,
    publish_s: float,
    work_s: float,
    confirmed: set[int],
    outcome: Outcome,
) -> None:
    """Publish at a steady pace; a publish is confirmed when apply_async returns."""
    from ops.chaos.tasks import apply_effect

    pace = publish_s / max(tasks, 1)
    start = time.monotonic()
    for key in range(tasks):
        delay = start + key * pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        outcome.published += 1
        try:
            apply_effect.apply_async(args=(run_id, key, work_s), retry=False)
        except Exception as exc:  # refused, connection lost, no confirm: never counted as sent
            if not outcome.refused:
                outcome.notes.append(f"first refusal: {type(exc).__name__}: {exc}"[:120])
            outcome.refused += 1
            continue
        confirmed.add(key)


def _connect(broker_urls: list[str]) -> pika.BlockingConnection:
    """A connection to the first node that accepts one (pika tries each in turn)."""
    return pika.BlockingConnection([pika.URLParameters(u) for u in broker_urls])


def _drain_dead_letters(broker_urls: list[str], run_id: str) -> set[int]:
    """Remove this run's messages from the dead-letter queue; return their keys."""
    keys: set[int] = set()
    try:
        conn = _connect(broker_urls)
    except pika.exceptions.AMQPError:
        return keys
    try:
        channel = conn.channel()
        others = []
        while True:
            method, _, body = channel.basic_get(dlq_name(TOPOLOGY.default_queue))
            if method is None:
                break
            args = _args(body)
            if args and args[0] == run_id:
                keys.add(int(args[1]))
                channel.basic_ack(method.delivery_tag)
            else:
                others.append(method.delivery_tag)
        for tag in others:
            channel.basic_nack(tag, requeue=True)
    finally:
        conn.close()
    return keys


def _args(body: bytes) -> list[Any]:
    try:
        decoded = json.loads(body)
    except ValueError:
        return []
    return (
        decoded[0] if isinstance(decoded, list) and decoded and isinstance(decoded[0], list) else []
    )


def _stalled(broker_urls: list[str], notes: list[str]) -> int:
    """After the settle deadline: the registered consumers of the pool's queue when it still
    holds ready messages, which none of them takes (registered, yet not consuming)."""
    try:
        conn = _connect(broker_urls)
    except pika.exceptions.AMQPError:
        return 0
    try:
        ok = conn.channel().queue_declare(POOL, passive=True).method
    finally:
        if conn.is_open:
            conn.close()
    if not ok.message_count:
        return 0
    notes.append(
        f"{ok.message_count} messages ready in {POOL} after {SETTLE_TIMEOUT_S}s, "
        f"not delivered to its {ok.consumer_count} registered consumer(s)"
    )
    return int(ok.consumer_count)


def _consumers(broker_urls: list[str]) -> int:
    """Consumers of the pool's queue, as a node of the broker counts them (0: none answers).

    Each worker group of the inline pool holds one; a quorum queue counts them on all nodes."""
    try:
        conn = _connect(broker_urls)
    except pika.exceptions.AMQPError:
        return 0
    try:
        return int(conn.channel().queue_declare(POOL, passive=True).method.consumer_count)
    except pika.exceptions.AMQPError:
        return 0
    finally:
        if conn.is_open:
            conn.close()


def stuck_groups(
    broker_urls: list[str], groups: int, notes: list[str], timeout: float = RESUME_TIMEOUT_S
) -> int:
    """Worker groups that do not consume again once the faults are over: `groups` minus
    the queue's consumers after `timeout` (a group that died, hangs, or lost its consumer
    without noticing). A note says how long resuming took."""
    after = time.monotonic()
    if wait_until(lambda: _consumers(broker_urls) >= groups, timeout, interval=1.0):
        notes.append(f"all groups consuming {time.monotonic() - after:.1f}s after the last fault")
        return 0
    consuming = _consumers(broker_urls)
    notes.append(f"{consuming} of {groups} groups consuming {timeout:.0f}s after the faults")
    return max(groups - consuming, 0)


def _broker_address(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


def _via(url: str, proxy: ChaosProxy | None) -> str:
    if proxy is None:
        return url
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urllib.parse.urlunsplit(
        parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
    )


def print_table(outcomes: list[Outcome], out: Any = sys.stdout) -> None:
    cols = (
        "scenario",
        "faults",
        "published",
        "confirmed",
        "refused",
        "applied",
        "dead_lettered",
        "lost",
        "reruns",
        "rerun_bound",
        "applied_twice",
        "stuck",
    )
    print("  ".join(f"{c:>13}" if c != "scenario" else f"{c:<21}" for c in cols), file=out)
    for o in outcomes:
        row = [f"{o.scenario:<21}"] + [f"{getattr(o, c):>13}" for c in cols[1:]]
        print("  ".join(row) + ("  " + "; ".join(o.notes) if o.notes else ""), file=out)
