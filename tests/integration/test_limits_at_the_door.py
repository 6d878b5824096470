"""Bad input at the door, against the real broker: refused in the caller with the queue
and its limit named, nothing published; and what a failing task leaves behind (stored
error, traceback, log) is bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from kombu import Connection
from psycopg import sql

from ops.cli import main as switchyard
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from results.codec import (
    EXCEPTION_MESSAGE_MAX_CHARS,
    RESULT_MAX_BYTES,
    TRACEBACK_MAX_CHARS,
    ResultTooLarge,
)
from results.schema import TASK_RESULT
from routing.names import UNROUTABLE_QUEUE
from routing.publish_checks import MessageTooLarge, PriorityOutOfRange, UnknownDestination
from tasks.inventory import sync_inventory_webhook
from tasks.media import process_video_transcode
from tests.integration.conftest import queue_depth, start_pool
from tests.tasks.probes import blob, fail

BAD_CALLS: dict[str, tuple[Callable[[], Any], type[ValueError], str]] = {
    "priority above the queue's": (
        lambda: process_video_transcode.apply_async((1, "mp4"), priority=20),
        PriorityOutOfRange,
        "priority 20 outside 0-10 of queue 'media_heavy'",
    ),
    "negative priority": (
        lambda: process_video_transcode.apply_async((1, "mp4"), priority=-1),
        PriorityOutOfRange,
        "priority -1 outside 0-10",
    ),
    "priority by name": (
        lambda: process_video_transcode.apply_async((1, "mp4"), priority="high"),  # type: ignore[arg-type]
        PriorityOutOfRange,
        "an integer 0-10 is expected",
    ),
    "priority on a quorum queue": (
        lambda: sync_inventory_webhook.apply_async((1,), priority=9),
        PriorityOutOfRange,
        "queue 'webhooks', which has no priorities",
    ),
    "routing key no binding matches": (
        lambda: sync_inventory_webhook.apply_async((1,), routing_key="nope"),
        UnknownDestination,
        "routing key 'nope' matches no declared queue",
    ),
    "undeclared queue": (
        lambda: sync_inventory_webhook.apply_async((1,), queue="nope"),
        UnknownDestination,
        "queue 'nope' matches no declared queue",
    ),
    "arguments above the queue's limit": (
        lambda: sync_inventory_webhook.delay("9" * 2_000_000),
        MessageTooLarge,
        "queue 'webhooks' accepts (max_message_bytes)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_a_bad_publish_is_refused_and_nothing_reaches_the_broker(
    broker: Connection, amqp: Any, case: str
) -> None:
    call, error, message = BAD_CALLS[case]
    with pytest.raises(error) as caught:
        call()
    assert message in str(caught.value)
    for queue in ("media_heavy", "webhooks", UNROUTABLE_QUEUE):
        assert queue_depth(amqp, queue) == 0, queue
    # The same call made right reaches its queue: the depth check can see a message.
    process_video_transcode.apply_async((1, "mp4"), priority=10)
    assert queue_depth(amqp, "media_heavy") == 1


def test_switchyard_send_names_the_queue_and_its_range(
    broker: Connection, amqp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = switchyard(
        ["send", "tasks.media.process_video_transcode", "1", "mp4", "--priority", "20"]
    )
    assert code == 1
    assert "priority 20 outside 0-10 of queue 'media_heavy'" in capsys.readouterr().err
    assert queue_depth(amqp, "media_heavy") == 0


def _stored(db: psycopg.Connection[tuple[object, ...]], task_id: str) -> tuple[Any, ...]:
    row = db.execute(
        sql.SQL("SELECT state, result, traceback FROM {} WHERE task_id = %s").format(
            sql.Identifier(TASK_RESULT.name)
        ),
        (task_id,),
    ).fetchone()
    assert row is not None
    return row


def test_a_failure_quoting_a_huge_argument_is_stored_and_logged_bounded(
    broker: Connection, supervisor: Supervisor, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    start_pool(supervisor, "default")
    huge = "h" * 600_000  # under the queue's 1 MiB, so it is published
    result = fail.delay(huge)
    with pytest.raises(ValueError, match="characters cut"):
        result.get(timeout=60)
    state, stored, traceback = _stored(db, result.id)
    assert state == "FAILURE"
    assert len(stored["exc_message"][0]) < EXCEPTION_MESSAGE_MAX_CHARS + 100
    assert len(traceback) < TRACEBACK_MAX_CHARS + 100
    assert "ValueError" in traceback
    # The worker logs the failure (with its traceback) once it is stored: cut as well.
    log = supervisor.processes[-1].log
    marker = f"Task {fail.name}[{result.id}] raised"
    assert wait_until(lambda: marker in log.read_text(), 30), "the failure was not logged"
    assert len(log.read_text()) < 100_000


def test_a_result_above_the_bound_is_refused_and_the_error_stored(
    broker: Connection, supervisor: Supervisor, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    start_pool(supervisor, "default")
    result = blob.delay(RESULT_MAX_BYTES + 1)
    with pytest.raises(ResultTooLarge, match=f"exceeds the {RESULT_MAX_BYTES} a task may store"):
        result.get(timeout=60)
    state, stored, _ = _stored(db, result.id)
    assert state == "FAILURE"
    assert stored["exc_type"] == "ResultTooLarge"
    assert blob.delay(10).get(timeout=60) == "z" * 10  # a small one is stored as ever
