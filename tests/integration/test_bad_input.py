"""Bad input is dead-lettered with a reason; the worker stays up and good work flows."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pika
from kombu import Connection

from deadletter import headers
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from routing.names import TASK_EXCHANGE, dlq_name
from tasks.demo import add
from tests.integration.conftest import start_pool
from tests.tasks.faults import kill_own_worker_process

QUEUE = "default"


def _publish(channel: Any, body: bytes, content_type: str, task: str | None) -> str:
    task_id = str(uuid.uuid4())
    hdrs = {"id": task_id, "task": task, "lang": "py"} if task else {}
    channel.basic_publish(
        TASK_EXCHANGE,
        QUEUE,
        body,
        pika.BasicProperties(
            content_type=content_type, content_encoding="utf-8", headers=hdrs, delivery_mode=2
        ),
    )
    return task_id


def _drain(channel: Any, queue: str, expected: int, timeout: float = 60) -> list[Any]:
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        method, props, _ = channel.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.1)
        else:
            found.append(props.headers or {})
    return found


def test_bad_messages_are_dead_lettered_with_reasons(
    broker: Connection, supervisor: Supervisor, amqp: Any
) -> None:
    start_pool(supervisor, "default")
    worker = supervisor.processes[-1]
    amqp.confirm_delivery()
    json_type = "application/json"
    bad = {
        "invalid json": (b"{not json", json_type, "tasks.demo.add"),
        "non-utf-8": (b"\xff\xfe\xfa", json_type, "tasks.demo.add"),
        "wrong shape": (b'"hello"', json_type, "tasks.demo.add"),
        "unknown task": (b"[[1, 2], {}, {}]", json_type, "tasks.nope.missing"),
        "pickle": (b"\x80\x04K\x01.", "application/x-python-serialize", "tasks.demo.add"),
        "no headers": (b"[[1, 2], {}, {}]", json_type, None),
    }
    good = []
    for body, content_type, task in bad.values():
        good.append(add.delay(1, 1))
        _publish(amqp, body, content_type, task)
    good.append(add.delay(2, 2))

    assert [r.get(timeout=60) for r in good] == [2] * (len(good) - 1) + [4]
    dead = _drain(amqp, dlq_name(QUEUE), expected=len(bad))
    assert len(dead) == len(bad)
    reasons = sorted(str(h.get(headers.REASON)) for h in dead)
    assert all(h.get(headers.SOURCE_QUEUE) == QUEUE for h in dead)
    assert sum("cannot decode" in r for r in reasons) == 2, reasons  # invalid JSON, non-UTF-8
    assert any("no task registered as 'tasks.nope.missing'" in r for r in reasons), reasons
    assert any("malformed task message" in r for r in reasons), reasons
    assert any("no task header" in r for r in reasons), reasons
    assert any(
        "refusing to deserialize" in r.lower() or "disallowed" in r.lower() for r in reasons
    ), reasons
    assert worker.alive, "the worker group exited on bad input"
    assert amqp.queue_declare(QUEUE, passive=True).method.message_count == 0


def test_a_task_that_kills_its_worker_ends_in_the_dead_letter_queue(
    broker: Connection, supervisor: Supervisor, amqp: Any
) -> None:
    """The inline pool: the first run takes the worker process down (started again here, as
    Kubernetes restarts a container); delivered again, the task runs in forked children,
    and the third lost child dead-letters it. Good work goes on meanwhile."""
    start_pool(supervisor, "default")
    first = supervisor.processes[-1]
    poison = kill_own_worker_process.delay()
    assert wait_until(lambda: not first.alive, 60), "the poison task did not kill its worker"
    supervisor.processes.remove(first)
    start_pool(supervisor, "default")
    good = [add.delay(i, i) for i in range(10)]
    assert [r.get(timeout=90) for r in good] == [i + i for i in range(10)]
    dead = _drain(amqp, dlq_name(QUEUE), expected=1, timeout=90)
    assert len(dead) == 1
    assert dead[0]["id"] == poison.id
    assert "worker lost 3 times" in dead[0][headers.REASON]
    assert "signal 9 (SIGKILL)" in dead[0][headers.REASON]
    assert supervisor.processes[-1].alive
