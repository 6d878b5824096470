"""`dlq replay` runs each dead letter once, keeps its death history, parks repeat failures.

The worker keeps consuming while the replay reads the dead-letter queue, so the copies
that fail again land in it during the replay: the case where reading until the queue is
empty replayed 200 messages 296 times.
"""

from __future__ import annotations

import time
from typing import Any

from kombu import Connection

from config.app import app
from config.settings import Settings
from deadletter import headers
from ops import dlq
from ops.supervisor import Supervisor
from tests.integration.conftest import queue_depth, start_pool

MESSAGES = 200
# No worker registers this name: every run of it is dead-lettered with the reason.
FAILING_TASK = "tasks.gone.renamed"
WAIT_S = 60


def wait_for_depth(amqp: Any, queue: str, wanted: int) -> int:
    """The depth of `queue` once it holds `wanted` messages (or when the wait gives up)."""
    deadline = time.monotonic() + WAIT_S
    while queue_depth(amqp, queue) < wanted and time.monotonic() < deadline:
        time.sleep(0.1)
    return queue_depth(amqp, queue)


def test_200_failing_messages_are_replayed_once_each_and_come_back_with_two_deaths(
    broker: Connection, supervisor: Supervisor, amqp: Any, settings: Settings
) -> None:
    start_pool(supervisor, "default")
    for n in range(MESSAGES):
        app.send_task(FAILING_TASK, args=(n,), queue="default")
    assert wait_for_depth(amqp, "default.dlq", MESSAGES) == MESSAGES

    with dlq.channel(settings.broker_url) as ch:
        dry = dlq.replay(ch, "default.dlq", max_replays=3, dry_run=True)
    assert (dry.snapshot, dry.replayed, dry.parked) == (MESSAGES, {"default": MESSAGES}, {})
    assert wait_for_depth(amqp, "default.dlq", MESSAGES) == MESSAGES  # a dry run moves nothing

    with dlq.channel(settings.broker_url) as ch:
        report = dlq.replay(ch, "default.dlq", max_replays=3)
    assert report.snapshot == MESSAGES
    assert report.replayed == {"default": MESSAGES}
    assert report.parked == {}
    assert wait_for_depth(amqp, "default.dlq", MESSAGES) == MESSAGES
    supervisor.stop(timeout=30)
    assert queue_depth(amqp, "default") == 0
    assert queue_depth(amqp, "default.dlq") == MESSAGES

    with dlq.channel(settings.broker_url) as ch:
        letters = dlq.show(ch, "default.dlq", limit=MESSAGES + 10)
    assert len(letters) == MESSAGES
    assert len({letter.task_id for letter in letters}) == MESSAGES
    assert {letter.deaths for letter in letters} == {2}
    assert {letter.replays for letter in letters} == {1}
    assert all(f"no task registered as '{FAILING_TASK}'" in x.reason for x in letters)

    # Replayed once already, with a limit of one replay: every message is parked instead.
    with dlq.channel(settings.broker_url) as ch:
        parked = dlq.replay(ch, "default.dlq", max_replays=1)
    assert (parked.replayed, parked.parked) == ({}, {"default": MESSAGES})
    assert queue_depth(amqp, "default.dlq") == 0
    assert queue_depth(amqp, "default") == 0
    assert wait_for_depth(amqp, "default.parked", MESSAGES) == MESSAGES
    _, props, _ = amqp.basic_get("default.parked", auto_ack=False)
    assert props.headers[headers.DEATHS] == 2
    assert "replayed 1 time(s), the limit; died 2 time(s)" in props.headers[headers.PARKED_REASON]
    assert len(props.headers[headers.DEATH_REASONS]) == 2
