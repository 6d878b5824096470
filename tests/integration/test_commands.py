"""The operator commands, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from kombu import Connection

from ops.broker import consumer_counts
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from tests.integration.conftest import start_pool


def _switchyard(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_send_prints_the_id_and_with_wait_the_result(
    broker: Connection, supervisor: Supervisor
) -> None:
    start_pool(supervisor, "default")
    done = _switchyard("send", "tasks.demo.add", "20", "22", "--wait")
    assert done.returncode == 0, done.stderr
    task_id, result = done.stdout.strip().splitlines()
    assert len(task_id) == 36
    assert json.loads(result) == 42


def test_send_names_an_unknown_task_and_queue(broker: Connection) -> None:
    done = _switchyard("send", "tasks.demo.ad", "1")
    assert done.returncode == 1
    assert "no task named 'tasks.demo.ad'; did you mean tasks.demo.add" in done.stderr
    done = _switchyard("send", "tasks.demo.add", "1", "2", "--queue", "nope")
    assert done.returncode == 1
    assert "unknown queue 'nope'" in done.stderr


def test_topology_show_json_lists_every_queue_and_pool() -> None:
    done = _switchyard("topology", "show", "--format", "json")
    info: dict[str, Any] = json.loads(done.stdout)
    assert [q["name"] for q in info["queues"]] == [q.name for q in TOPOLOGY.queues]
    assert [p["name"] for p in info["pools"]] == [p.name for p in TOPOLOGY.pools]


def test_run_pool_consumes_exactly_its_queue(broker: Connection, supervisor: Supervisor) -> None:
    pool = TOPOLOGY.pool("analytics")
    supervisor.start("run-analytics", [sys.executable, "-m", "ops.cli", "run", "--pool", pool.name])
    queues = [q.name for q in TOPOLOGY.queues]
    assert wait_until(lambda: consumer_counts(broker, queues)["analytics"] > 0, 60)
    counts = consumer_counts(broker, queues)
    assert {q for q, n in counts.items() if n > 0} == set(pool.queues)


def test_sigterm_lets_running_tasks_finish(broker: Connection, supervisor: Supervisor) -> None:
    from tasks.media import process_video_transcode

    start_pool(supervisor, "media-heavy")
    running = [process_video_transcode.delay(i, "mp4", simulate_s=3) for i in range(2)]
    assert wait_until(lambda: all(r.state == "STARTED" for r in running), 30)
    lines = supervisor.stop(timeout=30)
    assert lines == ["worker-media-heavy: stopped (exit 0)"]
    assert [r.get(timeout=5)["video_id"] for r in running] == [0, 1]
