"""A worker whose pool has no broker user of its own stops before it connects.

Where pools have their own users (SWITCHYARD_POOL_BROKER_URLS), a worker started without
its own URL would otherwise connect as the producer's user, with the producer's rights.
The real worker command line runs here; it must stop at start-up, before any connection,
so no broker is needed (the URLs point at a closed port).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from config.settings import Settings, SettingsError
from ops.supervisor import local_argv
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv, worker_env

CLOSED = "amqp://u:p@127.0.0.1:1/switchyard"


def _worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(
        SWITCHYARD_STACK_DIR=str(tmp_path),
        SWITCHYARD_BROKER_URL=CLOSED,
        SWITCHYARD_DATABASE_URL="postgresql://u:p@127.0.0.1:1/switchyard",
        SWITCHYARD_POOL_BROKER_URLS=json.dumps({"analytics": CLOSED}),
        SWITCHYARD_METRICS_PORT="0",
        SWITCHYARD_HEALTH_DIR=str(tmp_path / "health"),
        **extra,
    )
    return env


def test_a_worker_without_its_pools_user_exits_with_the_command_to_run(tmp_path: Path) -> None:
    pool = TOPOLOGY.pool("default")
    done = subprocess.run(
        local_argv(worker_argv(pool)),
        env={**_worker_env(tmp_path), **worker_env(pool)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "pool 'default': no broker user of its own" in done.stderr
    assert "switchyard apply" in done.stderr


def test_the_check_passes_with_the_pools_own_url_or_without_pool_users() -> None:
    urls = {"analytics": CLOSED}
    Settings(pool_broker_urls=urls, pool_broker_url=CLOSED).require_pool_url("default")
    Settings().require_pool_url("default")
    with pytest.raises(SettingsError, match="POOL_BROKER_URLS has one for it"):
        Settings(pool_broker_urls=urls).require_pool_url("analytics")
