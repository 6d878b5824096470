"""Names derived from one canonical name, so no related name is ever typed twice."""

from __future__ import annotations

import re

from kombu.transport.native_delayed_delivery import (
    CELERY_DELAYED_DELIVERY_EXCHANGE,
    MAX_LEVEL,
    MAX_NUMBER_OF_BITS_TO_USE,
    level_name,
)

TASK_EXCHANGE = "switchyard.tasks"
DEAD_LETTER_EXCHANGE = "switchyard.dlx"
UNROUTABLE_EXCHANGE = "switchyard.unroutable"
UNROUTABLE_QUEUE = "unroutable"
DLQ_SUFFIX = ".dlq"
PARKED_SUFFIX = ".parked"

# A countdown sends a task through the broker's delay exchanges, whose routing key is the
# delay in binary ("0.1.1...") in front of the task's own routing key.
DELAY_PREFIX_PATTERN = rf"^(?:[01]\.){{{MAX_NUMBER_OF_BITS_TO_USE}}}"
_DELAY_PREFIX = re.compile(DELAY_PREFIX_PATTERN)
# A delayed task is published to the top level's exchange; on delivery it says it came from
# the exchange its last delay queue dead-lettered it to: a level's or the delivery exchange.
DELAY_ENTRY_EXCHANGE = level_name(MAX_LEVEL)
DELAY_EXCHANGES = frozenset(
    {CELERY_DELAYED_DELIVERY_EXCHANGE, *(level_name(n) for n in range(MAX_LEVEL + 1))}
)


def dlq_name(queue: str) -> str:
    """The dead-letter queue of a work queue."""
    return queue + DLQ_SUFFIX


def parked_name(queue: str) -> str:
    """Where a dead letter of a work queue goes when it has been replayed too often."""
    return queue + PARKED_SUFFIX


def worker_nodename(pool: str, instance: int = 0) -> str:
    """The Celery node name of a pool's worker; `%h` expands to the host (pod) name.

    A pod runs one worker; locally a pool's replicas share the host, so the second one
    on is told apart by its instance number: `<pool>@<host>-<n>`, as pods are."""
    return f"{pool}@%h" if instance == 0 else f"{pool}@%h-{instance}"


def pool_of_nodename(nodename: str) -> str:
    """The pool a worker's node name (`worker_nodename`, expanded) belongs to."""
    return nodename.partition("@")[0]


PRODUCER_BROKER_USER = "switchyard-api"
"""The producer API's broker user: it may publish task messages and nothing else."""


def pool_broker_user(pool: str) -> str:
    """The broker user a pool's workers connect as, allowed only that pool's queues."""
    return f"switchyard-pool-{pool}"


def delayed_binding_key(queue: str) -> str:
    """The extra binding Celery's native delayed delivery adds from the task exchange to a
    queue, so a message whose routing key carries a delay prefix still reaches it."""
    return f"#.{queue}"


def queue_of_routing_key(routing_key: str) -> str:
    """The queue a task message was routed to: every binding key is a queue's name, behind
    the delay prefix when the message came through delayed delivery."""
    return _DELAY_PREFIX.sub("", routing_key)
