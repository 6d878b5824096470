"""The topology as kombu entities: what Celery consumes and what the broker declares."""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue

from routing import names
from routing.arguments import queue_arguments
from routing.model import QueueSpec, Topology


def task_exchange() -> Exchange:
    """Topic, so Celery's native delayed delivery can forward to it; bindings are exact
    queue names, so it routes like a direct exchange. Unmatched keys go to the alternate."""
    return Exchange(
        names.TASK_EXCHANGE,
        type="topic",
        durable=True,
        arguments={"alternate-exchange": names.UNROUTABLE_EXCHANGE},
    )


def dead_letter_exchange() -> Exchange:
    return Exchange(names.DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def unroutable_exchange() -> Exchange:
    return Exchange(names.UNROUTABLE_EXCHANGE, type="fanout", durable=True)


def work_queue(spec: QueueSpec) -> Queue:
    return Queue(
        spec.name,
        exchange=task_exchange(),
        routing_key=spec.name,
        durable=True,
        queue_arguments=queue_arguments(
            spec.type,
            dead_letter_exchange=names.DEAD_LETTER_EXCHANGE,
            dead_letter_routing_key=names.dlq_name(spec.name),
            max_priority=spec.max_priority,
            delivery_limit=spec.delivery_limit,
            max_length=spec.max_length,
            message_ttl_ms=spec.message_ttl_ms,
        ),
    )


def dead_letter_queue(spec: QueueSpec) -> Queue:
    return _on_dead_letter_exchange(names.dlq_name(spec.name))


def parked_queue(spec: QueueSpec) -> Queue:
    """Dead letters replayed too often wait here for a person, never replayed in bulk."""
    return _on_dead_letter_exchange(names.parked_name(spec.name))


def _on_dead_letter_exchange(name: str) -> Queue:
    """A quorum queue bound to the dead-letter exchange under its own name."""
    return Queue(
        name,
        exchange=dead_letter_exchange(),
        routing_key=name,
        durable=True,
        queue_arguments=queue_arguments("quorum"),
    )


def unroutable_queue() -> Queue:
    return Queue(
        names.UNROUTABLE_QUEUE,
        exchange=unroutable_exchange(),
        routing_key="",
        durable=True,
        queue_arguments=queue_arguments("quorum"),
    )


@dataclass(frozen=True)
class BrokerEntities:
    """Everything to declare, in dependency order (exchanges come with their queues)."""

    work_queues: tuple[Queue, ...]
    dead_letter_queues: tuple[Queue, ...]
    parked_queues: tuple[Queue, ...]
    unroutable_queue: Queue

    @property
    def all_queues(self) -> tuple[Queue, ...]:
        # The unroutable queue first: the task exchange names its exchange as alternate.
        return (
            self.unroutable_queue,
            *self.dead_letter_queues,
            *self.parked_queues,
            *self.work_queues,
        )


def broker_entities(topology: Topology) -> BrokerEntities:
    return BrokerEntities(
        work_queues=tuple(work_queue(q) for q in topology.queues),
        dead_letter_queues=tuple(dead_letter_queue(q) for q in topology.queues),
        parked_queues=tuple(parked_queue(q) for q in topology.queues),
        unroutable_queue=unroutable_queue(),
    )
