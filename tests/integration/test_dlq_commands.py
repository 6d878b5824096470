"""`switchyard dlq`: show keeps messages, replay removes each only after its confirm."""

from __future__ import annotations

import time
from typing import Any

from kombu import Connection

from config.app import app
from config.settings import Settings
from ops import dlq
from ops.supervisor import Supervisor
from tests.integration.conftest import queue_depth, start_pool


def test_show_replay_and_purge(
    broker: Connection, supervisor: Supervisor, amqp: Any, settings: Settings
) -> None:
    start_pool(supervisor, "default")
    for n in range(3):
        app.send_task("tasks.gone.renamed", args=(n,), queue="default")
    deadline = time.monotonic() + 30
    while queue_depth(amqp, "default.dlq") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    supervisor.stop(timeout=30)

    with dlq.channel(settings.broker_url) as ch:
        assert dlq.depths(ch)["default.dlq"] == 3
        letters = dlq.show(ch, "default.dlq", limit=10)
        assert [letter.task for letter in letters] == ["tasks.gone.renamed"] * 3
        assert all("no task registered as 'tasks.gone.renamed'" in x.reason for x in letters)
        assert all(letter.source_queue == "default" for letter in letters)
    with dlq.channel(settings.broker_url) as ch:
        assert dlq.depths(ch)["default.dlq"] == 3  # show put them all back
        assert dlq.replay(ch, "default.dlq", limit=2, max_replays=3).replayed_total == 2
    assert queue_depth(amqp, "default.dlq") == 1
    assert queue_depth(amqp, "default") == 2
    _, props, _ = amqp.basic_get("default", auto_ack=True)
    assert props.headers[dlq.REPLAYED] == 1
    assert "x-switchyard-reason" not in props.headers
    with dlq.channel(settings.broker_url) as ch:
        assert dlq.purge(ch, "default.dlq") == 1
        assert dlq.depths(ch)["default.dlq"] == 0
