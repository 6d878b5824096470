"""A countdown longer than the broker's consumer_timeout: nothing is held unacked in a worker.

Stock Celery keeps a countdown task unacknowledged in the worker until it is due; past
consumer_timeout the broker closes the channel and the worker exits, in a loop. Here the
message waits in the broker's delay queues and reaches the worker when due.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from config.settings import Settings
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from routing.management_api import ManagementAPI, quote
from tests.integration.conftest import start_pool
from tests.integration.management_stats import stat
from tests.integration.metrics_support import poll
from tests.tasks.probes import record_run

LOW_TIMEOUT_MS = 3000


@pytest.fixture
def low_consumer_timeout(stack: Stack, settings: Settings) -> Iterator[None]:
    if stack.external_broker:
        pytest.skip("changes the broker's consumer_timeout: local stack only")
    stack.rabbit.ctl("eval", f"application:set_env(rabbit, consumer_timeout, {LOW_TIMEOUT_MS}).")
    yield
    restored = settings.broker_consumer_timeout_s * 1000
    stack.rabbit.ctl("eval", f"application:set_env(rabbit, consumer_timeout, {restored}).")


def test_countdown_past_consumer_timeout_runs_once_when_due(
    low_consumer_timeout: None,
    broker: Connection,
    supervisor: Supervisor,
    settings: Settings,
    tmp_path: Path,
) -> None:
    start_pool(supervisor, "default")
    worker = supervisor.processes[-1]
    api = ManagementAPI(settings.broker_api_url)
    vhost = settings.broker_url.rsplit("/", 1)[1]

    def unacked() -> int | None:
        count = stat(api.get(f"queues/{quote(vhost)}/default"), "messages_unacknowledged")
        return None if count is None else int(count)

    # The queue's statistics come once a statistics interval: wait for them, so that every
    # reading below counts something (a missing count is not a zero).
    assert poll(unacked, lambda n: n is not None, timeout=60) is not None
    sent = time.monotonic()
    runs = tmp_path / "runs.log"  # one line per run of the task
    result = record_run.apply_async(args=([42], str(runs)), countdown=LOW_TIMEOUT_MS / 1000 * 2 + 1)
    while time.monotonic() - sent < LOW_TIMEOUT_MS / 1000 * 2:
        assert unacked() == 0  # not held by the worker
        time.sleep(0.5)
    assert result.get(timeout=60) == 1
    assert time.monotonic() - sent >= LOW_TIMEOUT_MS / 1000 * 2 + 1
    assert worker.alive
    # The run wrote its line before its result was stored; a second run would add one.
    assert runs.read_text().splitlines() == ["ran"]
    assert "PRECONDITION_FAILED" not in worker.log.read_text()
