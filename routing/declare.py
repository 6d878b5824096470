"""Declare the topology on a live broker; idempotent, and loud on any conflict.

A queue that exists with other arguments makes RabbitMQ close the channel with
PRECONDITION_FAILED; that error is re-raised with the queue's name and both argument sets.
"""

from __future__ import annotations

from typing import Any

from kombu import Connection
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from routing.entities import broker_entities
from routing.model import Topology, TopologyError


def declare_topology(connection: Connection, topology: Topology) -> list[str]:
    """Declare exchanges, queues and bindings; return the names declared.

    Raises:
        TopologyError: a queue exists on the broker with different arguments.
    """
    entities = broker_entities(topology)
    declared: list[str] = []
    for queue in entities.all_queues:
        channel: Any = connection.channel()
        try:
            queue.bind(channel).declare()
        except Exception as exc:
            if "PRECONDITION_FAILED" in str(exc):
                raise TopologyError(
                    f"queue {queue.name!r} exists on the broker with other arguments; "
                    f"declared: {queue.queue_arguments}; broker said: {exc}. "
                    "Drain and delete it, or change the declaration back"
                ) from None
            raise
        finally:
            channel.close()
        declared.append(queue.name)
    # Countdowns and ETAs wait in the broker, not in a worker's memory: Celery's native
    # delayed delivery queues, forwarding to the task exchange when due.
    declare_native_delayed_delivery_exchanges_and_queues(connection, "quorum")
    for queue in entities.work_queues:
        bind_queue_to_native_delayed_delivery_exchange(connection, queue)
    return declared
