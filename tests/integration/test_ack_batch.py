"""Acks written in batches (`execution.ack_batch`) on a real RabbitMQ channel.

What a batch holds back is what the broker redelivers when the connection dies: each test
ends by closing the connection without writing the held acks, then reads back what the
broker redelivers. A batch that acked too much would show fewer messages than expected
(a task not run yet, lost on a crash); one that held too much, more.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection, Queue

from config.settings import ENV_PREFIX, Settings
from execution.ack_batch import AckBatch, effective_batch
from ops.broker import consumer_counts
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from tests.integration.conftest import start_pool
from tests.integration.metrics_support import poll
from tests.tasks.probes import echo

pytestmark = pytest.mark.usefixtures("stack")
MESSAGES = 10


@pytest.fixture
def queue(settings: Settings) -> Iterator[Queue]:
    """A queue of MESSAGES numbered messages, deleted after the test."""
    queue = Queue(f"test-ack-batch-{uuid.uuid4().hex[:8]}", durable=False, auto_delete=False)
    with Connection(settings.broker_url) as conn:
        bound = queue.bind(conn.default_channel)
        bound.declare()
        producer = conn.Producer(serializer="json")
        for number in range(1, MESSAGES + 1):
            producer.publish(number, routing_key=queue.name, exchange="")
        yield queue
        bound.delete()


def _take(conn: Connection, queue: Queue, count: int) -> list[Any]:
    bound = queue.bind(conn.channel())
    messages = [bound.get(no_ack=False) for _ in range(count)]
    assert all(m is not None for m in messages)
    return messages


def _redelivered(settings: Settings, queue: Queue) -> list[int]:
    """What the broker holds again after the connection died: the numbers, in order."""
    with Connection(settings.broker_url) as conn:
        bound = queue.bind(conn.channel())
        numbers = []
        while (message := bound.get(no_ack=True)) is not None:
            numbers.append(int(message.payload))
        return numbers


def _crash(conn: Connection) -> None:
    """The connection closes without the held acks written, as a killed worker's does."""
    conn.collect()


def test_a_crash_redelivers_at_most_the_held_acks(settings: Settings, queue: Queue) -> None:
    conn = Connection(settings.broker_url)
    batch = AckBatch(max_count=4, max_delay_s=3600)
    messages = _take(conn, queue, MESSAGES)
    for message in messages:
        batch.received(message)
    for message in messages:
        batch.finished(message)
    assert batch.held == 2
    assert batch.frames_written == 2  # one basic.ack(multiple) per four tasks
    _crash(conn)
    assert _redelivered(settings, queue) == [9, 10]


def test_every_held_ack_is_written_by_a_flush(settings: Settings, queue: Queue) -> None:
    conn = Connection(settings.broker_url)
    batch = AckBatch(max_count=100, max_delay_s=3600)
    messages = _take(conn, queue, MESSAGES)
    for message in messages:
        batch.received(message)
        batch.finished(message)
    batch.flush()
    assert batch.frames_written == 1
    _crash(conn)
    assert _redelivered(settings, queue) == []


def test_an_unsettled_message_is_never_acked_by_a_later_one(
    settings: Settings, queue: Queue
) -> None:
    """Message 3 is held (as an ETA task is); 4 and 5 finish; 2 was acked directly."""
    conn = Connection(settings.broker_url)
    batch = AckBatch(max_count=3, max_delay_s=3600)
    messages = _take(conn, queue, 6)
    for message in messages:
        batch.received(message)
    messages[1].ack()
    for number in (1, 4, 5):
        batch.finished(messages[number - 1])
    assert batch.held == 0
    _crash(conn)
    assert _redelivered(settings, queue) == [3, 6, 7, 8, 9, 10]


def test_held_acks_are_written_once_the_oldest_is_due(settings: Settings, queue: Queue) -> None:
    now = [0.0]
    conn = Connection(settings.broker_url)
    batch = AckBatch(max_count=100, max_delay_s=0.05, clock=lambda: now[0])
    messages = _take(conn, queue, 2)
    for message in messages:
        batch.received(message)
    batch.finished(messages[0])
    batch.flush_due()
    assert batch.held == 1
    now[0] = 0.05
    batch.flush_due()
    assert batch.held == 0
    _crash(conn)
    assert _redelivered(settings, queue) == list(range(2, MESSAGES + 1))  # 2 did not finish


def test_a_new_channel_starts_a_new_batch(settings: Settings, queue: Queue) -> None:
    """After a reconnect the old delivery tags mean nothing on the new channel."""
    conn = Connection(settings.broker_url)
    batch = AckBatch(max_count=100, max_delay_s=3600)
    first, second = _take(conn, queue, 1), _take(conn, queue, 1)  # two channels
    batch.received(first[0])
    batch.finished(first[0])
    batch.received(second[0])  # writes what the first channel held
    batch.finished(second[0])
    batch.flush()
    _crash(conn)
    assert _redelivered(settings, queue) == list(range(3, MESSAGES + 1))


@pytest.mark.parametrize(
    ("configured", "prefetch", "used"), [(8, 16, 8), (8, 4, 2), (8, 1, 1), (8, 0, 8), (1, 16, 1)]
)
def test_a_batch_stays_below_the_prefetch(configured: int, prefetch: int, used: int) -> None:
    assert effective_batch(configured, prefetch) == used


def _unacked(stack: Stack, vhost: str, queue: str) -> int | None:
    """Unacknowledged messages of `queue` as its queue process counts them now (rabbitmqctl,
    not the management API's statistics, which lag by seconds)."""
    out = stack.rabbit.ctl(
        "list_queues", "-p", vhost, "name", "messages_unacknowledged", "--no-table-headers", "-q"
    )
    counts = dict(line.split() for line in out.splitlines() if line.strip())
    return int(counts[queue]) if queue in counts else None


@pytest.mark.parametrize(("delay_ms", "held"), [(None, 0), (3_600_000, 3)])
def test_an_idle_inline_worker_writes_the_acks_it_holds(
    supervisor: Supervisor, stack: Stack, broker: Connection, delay_ms: int | None, held: int
) -> None:
    """Three tasks, fewer than a batch: the idle timer writes their acks, and killing the
    worker then gives nothing back. With a delay nothing reaches, the broker still counts the
    three unacknowledged and the same kill gives all three back: the check sees held acks
    when there are some."""
    env = {} if delay_ms is None else {f"{ENV_PREFIX}ACK_BATCH_DELAY_MS": str(delay_ms)}
    start_pool(supervisor, "default", env)
    results = [echo.delay(n) for n in range(3)]
    assert [r.get(timeout=60) for r in results] == [0, 1, 2]
    vhost = broker.virtual_host
    assert poll(lambda: _unacked(stack, vhost, "default"), lambda n: n == held) == held
    supervisor.processes[-1].popen.kill()
    gone = poll(lambda: consumer_counts(broker, ["default"])["default"], lambda n: n == 0)
    assert gone == 0
    channel: Any = broker.channel()
    try:
        assert channel.queue_declare(queue="default", passive=True)[1] == held
    finally:
        channel.close()
