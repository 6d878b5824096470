"""Helpers of the result backend tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from ops.broker_users import pool_worker_env
from ops.supervisor import Process, Supervisor
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv

DEADLINE_S = 60.0


def wait_for(condition: Callable[[], object], timeout: float = DEADLINE_S) -> None:
    """Poll `condition` every few milliseconds until it holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true after {timeout:.0f}s: {condition}")
        time.sleep(0.005)


def start_default_pool(supervisor: Supervisor, instance: str = "") -> Process:
    """A worker group of the `default` pool, as its own broker user, under its own node name
    when `instance` is given (two groups on one host)."""
    argv = worker_argv(TOPOLOGY.pool("default"))
    if instance:
        argv[argv.index("--hostname") + 1] = f"default@{instance}.%h"
    return supervisor.start(f"worker-default{instance}", argv, pool_worker_env("default"))
