"""The producer API's broker user publishes tasks and can do nothing else."""

from __future__ import annotations

import re

from kombu.transport.native_delayed_delivery import MAX_NUMBER_OF_BITS_TO_USE

from routing import names
from routing.declaration import TOPOLOGY
from routing.permissions import pool_permissions, producer_permissions

DELAY = "1." + "0." * (MAX_NUMBER_OF_BITS_TO_USE - 1)


def allowed(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ's permission match: unanchored


def test_publishes_to_every_declared_queue_directly_or_after_a_countdown() -> None:
    granted = producer_permissions(TOPOLOGY)
    assert granted.user == names.PRODUCER_BROKER_USER
    for queue in TOPOLOGY.queues:
        assert allowed(granted.topic_write[names.TASK_EXCHANGE], queue.name)
        assert allowed(granted.topic_write[names.DELAY_ENTRY_EXCHANGE], DELAY + queue.name)
    assert allowed(granted.write, names.TASK_EXCHANGE)
    assert allowed(granted.write, names.DELAY_ENTRY_EXCHANGE)


def test_declares_reads_and_dead_letters_nothing() -> None:
    granted = producer_permissions(TOPOLOGY)
    queue = TOPOLOGY.queues[0].name
    for name in (queue, names.TASK_EXCHANGE, names.dlq_name(queue), names.DEAD_LETTER_EXCHANGE):
        assert not allowed(granted.configure, name)
        assert not allowed(granted.read, name)
    assert not allowed(granted.write, names.DEAD_LETTER_EXCHANGE)
    assert not allowed(granted.write, queue)  # not even through the default exchange
    assert not allowed(granted.topic_write[names.TASK_EXCHANGE], "not-declared")


def test_a_pool_user_is_not_the_producer_user() -> None:
    pools = {pool_permissions(p).user for p in TOPOLOGY.pools}
    assert names.PRODUCER_BROKER_USER not in pools
