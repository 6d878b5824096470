"""`switchyard topology wait`, the init container of every worker pod: it waits while the
pool's queue or the result tables are missing, names what is missing, and returns 0 once
they exist; a pool's own broker user may run it."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kombu import Connection

from config.settings import Settings
from ops.readiness import missing_tables
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology

POOL = TOPOLOGY.pool("maintenance")
COMMAND = ["-m", "ops.cli", "topology", "wait", "--pool", POOL.name, "--timeout", "1"]


def _wait(extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *COMMAND, "--interval", "0.2"],
        env={**os.environ, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_waits_for_a_missing_queue_then_passes(broker: Connection, settings: Settings) -> None:
    (queue,) = POOL.queues
    channel: Any = broker.channel()
    try:
        channel.queue_delete(queue)
        missing = _wait()
    finally:
        channel.close()
        declare_topology(broker, TOPOLOGY)
    assert missing.returncode == 1
    assert f"queue {queue!r}" in missing.stderr
    assert "Traceback" not in missing.stderr
    present = _wait()
    assert present.returncode == 0, present.stderr
    assert "queues and result tables exist" in present.stdout


def test_a_pool_user_may_run_it(broker: Connection, settings: Settings) -> None:
    url = settings.pool_broker_urls.get(POOL.name)
    if not url:
        return  # the stack runs without per-pool users: nothing more to show
    result = _wait({"SWITCHYARD_POOL_BROKER_URL": url})
    assert result.returncode == 0, result.stderr


def test_missing_result_tables_are_named(settings: Settings) -> None:
    """The server's `postgres` database exists and holds none of Switchyard's tables."""
    parts = urlsplit(settings.database_url)
    elsewhere = urlunsplit(parts._replace(path="/postgres"))
    assert missing_tables(settings.database_url) == []
    missing = missing_tables(elsewhere)
    assert "table 'switchyard_task_result'" in missing, missing
    result = _wait({"SWITCHYARD_DATABASE_URL": elsewhere})
    assert result.returncode == 1
    assert "table '" in result.stderr
