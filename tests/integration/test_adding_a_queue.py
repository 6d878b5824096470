"""docs/adding-a-queue.md, performed as written, on a copy of the project.

A new user's clone is a copy of this checkout: the test copies the sources, writes a task
module, adds one `QueueSpec`, one `Route` and one `PoolSpec` to the copy's declaration,
runs the one command (`switchyard apply`), starts the new pool as the doc says and sends
its task. Then it removes the queue as the doc says: the declaration back, `apply`,
`topology diff` lists the leftovers, `topology prune --yes` removes them. Every command runs
from the copy, so nothing but the copy's own files can make it work.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings, project_root
from ops.live_broker import management_api
from ops.stack.processes import wait_until
from routing import names
from routing.management_api import quote
from tests.integration.conftest import queue_depth
from tests.project_copy import (
    POOL,
    QUEUE,
    TASK,
    add_queue,
    clone_env,
    copy_project,
    switchyard,
)


@pytest.fixture
def clone(tmp_path: Path, settings: Settings) -> Iterator[Path]:
    """A copy of the project; afterwards the broker and the settings file are brought back
    to this checkout's declaration, whatever the test left."""
    yield copy_project(tmp_path / "clone")
    switchyard(project_root(), "apply")
    switchyard(project_root(), "topology", "prune", "--yes", "--force")


def test_adding_a_queue_takes_one_edit_and_one_command_and_removing_it_one_more(
    clone: Path, settings: Settings
) -> None:
    original = (clone / "routing" / "declaration.py").read_text()
    add_queue(clone)

    # Before the one command the new pool has no broker user: it is refused, not started
    # as the producer.
    refused = switchyard(clone, "run", "--pool", POOL)
    assert refused.returncode == 1
    assert f"pool {POOL!r} has no broker user of its own" in refused.stderr
    stale = switchyard(clone, "apply", "--check")
    assert stale.returncode == 1
    assert "stale file helm/switchyard/files/topology.json" in stale.stdout
    assert f"missing queue {QUEUE!r}" in stale.stdout

    applied = switchyard(clone, "apply")
    assert applied.returncode == 0, applied.stderr
    assert f"user      {names.pool_broker_user(POOL)}: queues {QUEUE}" in applied.stdout
    assert switchyard(clone, "apply", "--check").returncode == 0
    chart = json.loads((clone / "helm/switchyard/files/topology.json").read_text())
    assert POOL in [pool["name"] for pool in chart["pools"]]
    assert f'queue_name="{QUEUE}"' in (clone / "helm/switchyard/files/alerts.yaml").read_text()

    worker = subprocess.Popen(
        [sys.executable, "-m", "ops.cli", "run", "--pool", POOL],
        cwd=clone,
        env=clone_env(clone),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sent = switchyard(clone, "send", TASK, "cat", "--wait", "--timeout", "60")
        assert sent.returncode == 0, sent.stderr
        assert json.loads(sent.stdout.splitlines()[-1]) == "thumbnails/cat.png"
        # The management API lists connections from statistics that lag by seconds.
        api = management_api(settings)
        user = names.pool_broker_user(POOL)
        assert wait_until(lambda: user in {c.get("user") for c in api.get("connections")}, 30)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    # Removing it: the declaration back, the one command, then the leftovers pruned.
    (clone / "routing" / "declaration.py").write_text(original)
    (clone / "tasks" / "thumbnails.py").unlink()
    assert switchyard(clone, "apply").returncode == 0
    leftover = switchyard(clone, "topology", "diff")
    assert leftover.returncode == 1
    for line in (
        f"leftover queue {QUEUE!r}",
        f"leftover queue {names.dlq_name(QUEUE)!r}",
        f"leftover queue {names.parked_name(QUEUE)!r}",
        f"leftover pool user {names.pool_broker_user(POOL)!r}",
    ):
        assert line in leftover.stdout
    pruned = switchyard(clone, "topology", "prune", "--yes")
    assert pruned.returncode == 0, pruned.stderr
    assert f"deleted queue {QUEUE!r}" in pruned.stdout
    assert switchyard(clone, "topology", "diff").returncode == 0
    vhost_queues = api.get(f"queues/{quote('switchyard')}")
    assert QUEUE not in {q["name"] for q in vhost_queues}


def test_prune_refuses_a_queue_that_holds_messages_until_moved_or_forced(
    clone: Path, amqp: Any
) -> None:
    amqp.queue_declare("retired", durable=True, arguments={"x-queue-type": "quorum"})
    amqp.basic_publish("", "retired", b"keep me")
    assert wait_until(lambda: queue_depth(amqp, "retired") == 1, 10)
    refused = switchyard(clone, "topology", "prune", "--yes")
    assert refused.returncode == 1
    assert "'retired' (1) still hold messages" in refused.stderr
    assert queue_depth(amqp, "retired") == 1
    moved = switchyard(clone, "topology", "prune", "--yes", "--move-to", "default")
    assert moved.returncode == 0, moved.stderr
    assert "moved 1 message(s) from 'retired' to 'default'" in moved.stdout
    assert "deleted queue 'retired'" in moved.stdout
    _, _, body = amqp.basic_get("default", auto_ack=True)
    assert body == b"keep me"
