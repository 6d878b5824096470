"""A real worker's probe files: ready once it consumes, refreshed while it runs, gone after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kombu import Connection

from execution.health_files import HealthFiles
from ops.broker import consumer_counts
from ops.broker_users import pool_worker_env
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv


def _probe(health_dir: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The exec probe of a pod (`switchyard-health`, `ops.probe`)."""
    return subprocess.run(
        [sys.executable, "-m", "ops.probe", *args],
        env={**os.environ, "SWITCHYARD_HEALTH_DIR": health_dir},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_probe_files_follow_the_consumer(
    broker: Connection, supervisor: Supervisor, tmp_path: Path
) -> None:
    pool = TOPOLOGY.pool("default")
    files = HealthFiles(tmp_path / "health")
    assert _probe(files.directory, "--max-age", "60").returncode == 1

    worker = supervisor.start(
        "worker-default",
        worker_argv(pool),
        env={
            "SWITCHYARD_HEALTH_DIR": files.directory,
            "SWITCHYARD_HEALTH_INTERVAL_S": "0.5",
            **pool_worker_env(pool.name),
        },
    )
    assert wait_until(lambda: os.path.exists(files.ready) or not worker.alive, 90), (
        worker.log.read_text()
    )
    assert worker.alive, worker.log.read_text()
    # Ready means consuming: the broker counts this worker on the pool's queues (its
    # basic.consume is asynchronous, so allow it a moment to arrive).
    assert wait_until(
        lambda: all(n >= 1 for n in consumer_counts(broker, list(pool.queues)).values()), 10
    )
    ready = _probe(files.directory, "--ready", "--max-age", "60")
    assert ready.returncode == 0, ready.stderr

    first_touch = os.stat(files.live).st_mtime
    assert wait_until(lambda: os.stat(files.live).st_mtime > first_touch, 15)

    assert supervisor.stop(timeout=60) == ["worker-default: stopped (exit 0)"]
    assert not os.path.exists(files.ready)
    assert not os.path.exists(files.live)
    gone = _probe(files.directory, "--max-age", "60")
    assert gone.returncode == 1
    assert "missing" in gone.stderr
