"""Helpers of the result backend tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

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


def default_pool_argv(hostname_prefix: str = "default") -> list[str]:
    """The `default` pool's real command line, under its own node name."""
    argv = worker_argv(TOPOLOGY.pool("default"))
    argv[argv.index("--hostname") + 1] = f"{hostname_prefix}@%h"
    return argv
