"""Fixtures for the result backend tests: the app's backend and worker groups of a pool."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config.app import app
from config.settings import Settings
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from results.backend import SwitchyardBackend
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


@pytest.fixture(scope="session")
def backend(settings: Settings) -> SwitchyardBackend:
    """The app's result backend, which the settings select by default."""
    assert settings.result_backend == "switchyard"
    selected = app.backend
    assert isinstance(selected, SwitchyardBackend)
    return selected


@pytest.fixture(scope="module")
def default_worker(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    """One worker group of the `default` pool for the tests of a module."""
    supervisor = Supervisor(Path(tmp_path_factory.mktemp("worker-logs")))
    supervisor.start("worker-default", default_pool_argv())
    yield supervisor
    supervisor.stop(timeout=30)
