"""A three-node RabbitMQ cluster, started by `switchyard stack up --broker-nodes 3` in a stack
of its own, and the node-kill fault against it at a small size.

The cluster gets its own directory and port offset (the session's stack keeps running beside
it) and is started fresh, so every quorum queue is declared through the first node and led
by it: killing the busiest leader then kills the node every client is connected to, and the
run shows the workers and the producer moving to the other two. `make chaos-cluster` runs
all three cluster faults at full size.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest

from config.paths import ENV_PREFIX
from config.settings import Settings, stack_dir
from ops.chaos import classic_queue
from ops.stack.layout import PORT_OFFSET_ENV, Ports, StackLayout
from ops.stack.manager import Stack
from ops.stack.processes import wait_until
from routing.arguments import queue_arguments

NODES = 3
OFFSET_STEP = 50  # beside the session's stack: every port of its offset + 50 is free


@pytest.fixture(scope="module")
def cluster(stack: Stack, settings: Settings) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A fresh three-node cluster, the topology declared, removed after. Its ledger and
    results go to the session's PostgreSQL (an external database to this stack), so only
    RabbitMQ is started."""
    layout = StackLayout(
        stack_dir() / "cluster-test", Ports(stack.layout.ports.offset + OFFSET_STEP)
    )
    shutil.rmtree(layout.root, ignore_errors=True)
    layout.root.mkdir(parents=True)
    layout.root.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env |= {
        PORT_OFFSET_ENV: str(layout.ports.offset),
        f"{ENV_PREFIX}STACK_DIR": str(layout.root),
        f"{ENV_PREFIX}DATABASE_URL": settings.database_url,
        f"{ENV_PREFIX}MIGRATION_DATABASE_URL": settings.migration_database_url,
    }
    try:
        _switchyard(env, "stack", "up", "--broker-nodes", str(NODES), timeout=400)
        _switchyard(env, "topology", "declare")
        yield Stack(layout, broker_nodes=NODES), env
    finally:
        subprocess.run(
            [sys.executable, "-m", "ops.cli", "stack", "down"], env=env, timeout=180, check=False
        )
        shutil.rmtree(layout.root, ignore_errors=True)


def _switchyard(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"switchyard {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_nodes_form_one_cluster_and_quorum_queues_have_three_replicas(
    cluster: tuple[Stack, dict[str, str]],
) -> None:
    stack, env = cluster
    assert sorted(stack.broker.members()) == sorted(n.nodename for n in stack.broker.nodes)
    queues = {q.name: q for q in stack.broker.queue_replicas()}
    assert set(queues["default"].members) == {n.nodename for n in stack.broker.nodes}
    assert queues["media_heavy"].type == "classic"  # one node only: docs/faults.md
    settings = Settings(_env_file=stack.layout.env_file)
    assert settings.broker_nodes == NODES
    assert len(settings.with_failover(settings.broker_url).split(";")) == NODES
    status = _switchyard(env, "stack", "status")
    assert status.count(" running ") >= NODES, status


def test_killing_the_busiest_node_loses_nothing_and_clients_move_on(
    cluster: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = cluster
    busiest = stack.broker.busiest_leader()
    assert busiest.nodename == stack.rabbit.nodename  # fresh: the clients' node leads all
    out = tmp_path / "outcome.json"
    args = ("--scenario", "broker-node-kill", "--tasks", "300", "--faults", "1")
    _switchyard(env, "chaos", *args, "--publish-seconds", "10", "--json", str(out), timeout=400)
    (outcome,) = json.loads(out.read_text())
    _check(outcome)
    assert any(f"kill {busiest.nodename.split('@')[0]}" in n for n in outcome["notes"])
    # the groups consumed from the other nodes, and the producer's publishes were confirmed
    # by them, while the killed node was down
    assert all(s != float("inf") for s in outcome["failover_s"]), outcome["notes"]
    assert outcome["outage_confirms"] > 0, outcome["notes"]
    assert stack.broker.all_running()
    assert wait_until(lambda: _replicas_online(stack), 60), stack.broker.queue_replicas()


def _replicas_online(stack: Stack) -> bool:
    """Every quorum queue has all three members online again (the killed one caught up)."""
    quorum = [q for q in stack.broker.queue_replicas() if q.type == "quorum"]
    return bool(quorum) and all(len(set(q.online)) == NODES for q in quorum)


def _check(outcome: dict[str, Any]) -> None:
    assert outcome["faults"] == 1
    assert outcome["confirmed"] + outcome["refused"] == outcome["published"] == 300
    assert outcome["lost"] == 0, outcome
    assert outcome["applied_twice"] == 0, outcome
    assert outcome["reruns"] <= outcome["rerun_bound"], outcome
    assert outcome["stuck"] == 0, outcome
    assert outcome["applied"] + outcome["dead_lettered"] == outcome["confirmed"]


def test_a_classic_queue_on_a_killed_node_confirms_publishes_it_drops(
    cluster: tuple[Stack, dict[str, str]],
) -> None:
    """The measured hole of `media_heavy` (classic: quorum queues refuse priorities), in
    docs/faults.md: while its node is down the queue cannot be read, and publishes routed to
    it are confirmed but not stored; what it held before comes back with the node."""
    stack, _ = cluster
    urls = {n.nodename: n.app_broker_url for n in stack.broker.nodes}
    got = classic_queue.measure(stack.broker, urls, "media_heavy", messages=50)
    assert (got.confirmed_before, got.kept_before) == (50, 50)
    assert got.read_while_down == "404 NOT_FOUND"
    assert (got.confirmed_while_down, got.kept_while_down) == (50, 0)


def test_quorum_queues_refuse_priorities(cluster: tuple[Stack, dict[str, str]]) -> None:
    """Why `media_heavy` stays classic on RabbitMQ 3.10."""
    stack, _ = cluster
    conn = pika.BlockingConnection(pika.URLParameters(stack.rabbit.app_broker_url))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            conn.channel().queue_declare(
                "switchyard.probe.priority",
                durable=True,
                arguments=queue_arguments("quorum", max_priority=10),
            )
    finally:
        if conn.is_open:
            conn.close()
    assert refused.value.reply_code == 406
    assert "x-max-priority" in refused.value.reply_text
