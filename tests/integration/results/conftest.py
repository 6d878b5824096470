"""Fixtures for the result backend tests: the app's backend and worker groups of a pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.app import app
from config.settings import Settings
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from results.backend import SwitchyardBackend
from tests.integration.results.helpers import start_default_pool


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
    start_default_pool(supervisor)
    yield supervisor
    supervisor.stop(timeout=30)
