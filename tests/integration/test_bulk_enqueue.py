"""`enqueue_many` publishes every task once, they all run, and a refused message raises."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from config.app import app
from ops.broker_users import pool_worker_env
from ops.supervisor import Supervisor
from routing.arguments import queue_arguments
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv
from tasks.bulk import EnqueueRefused, enqueue_many
from tasks.probes import echo

pytestmark = pytest.mark.integration

TASKS = 300
MAX_LENGTH = 5


def test_every_task_is_published_and_runs(broker: Connection, supervisor: Supervisor) -> None:
    results = enqueue_many([echo.si(i) for i in range(TASKS)], app, window=64)
    assert len({r.id for r in results}) == TASKS
    supervisor.start(
        "worker-default", worker_argv(TOPOLOGY.pool("default")), pool_worker_env("default")
    )
    assert app.ResultSet(results).get(timeout=120) == list(range(TASKS))


@pytest.fixture
def full_queue(broker: Connection) -> Iterator[str]:
    """A scratch queue that holds `MAX_LENGTH` messages and refuses the next ones."""
    name = f"test.bulk.{uuid.uuid4().hex[:8]}"
    queue = Queue(
        name,
        Exchange(""),
        routing_key=name,
        durable=True,
        queue_arguments=queue_arguments("classic", max_length=MAX_LENGTH),
    )
    channel: Any = broker.channel()
    queue.bind(channel).declare()
    yield name
    queue.bind(channel).delete()
    channel.close()


def test_a_refused_message_raises(broker: Connection, full_queue: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(10)]
    signatures = [
        echo.si(i).set(exchange="", routing_key=full_queue, task_id=task_id)
        for i, task_id in enumerate(ids)
    ]
    with pytest.raises(EnqueueRefused) as refused:
        enqueue_many(signatures, app)
    assert [r.id for r in refused.value.accepted] == ids[:MAX_LENGTH]
    assert refused.value.refused == ids[MAX_LENGTH:]
    channel: Any = broker.channel()
    assert channel.queue_declare(queue=full_queue, passive=True).message_count == MAX_LENGTH
    channel.close()
