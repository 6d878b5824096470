"""Checks a task message passes before it is published, against the declaration.

Stock Celery publishes whatever it is given: a priority above the queue's maximum is
accepted and the task sees it, a priority on a queue without priorities is silently
ignored, `-1` or `"high"` fail deep in the AMQP encoder with a bare `struct.error`, a
routing key no binding matches is confirmed and parked in `unroutable` (its result stays
PENDING forever), and a 50 MB argument is published. Here each of these is a `ValueError`
subclass naming the queue and its limit, raised before anything reaches the broker.

Every producer calls these: the task base class's `apply_async`, `switchyard send`, and the
producer API. They read only the declaration, so they cost no broker round trip.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.utils import json as kombu_json

from routing import names
from routing.model import QueueSpec, Topology


class PublishRefused(ValueError):
    """A message was refused before publishing; the message names the field and limit."""


class UnknownDestination(PublishRefused):
    """The queue, exchange or routing key matches no declared queue: the message would
    sit in `unroutable` and its result stay PENDING."""


class PriorityOutOfRange(PublishRefused):
    """The priority is not an integer in the target queue's range, or the queue has none."""


class MessageTooLarge(PublishRefused):
    """The task's body is above the target queue's `max_message_bytes`."""


def destination(
    topology: Topology,
    *,
    queue: str | None = None,
    exchange: str | None = None,
    routing_key: str | None = None,
) -> QueueSpec:
    """The declared queue a message with these options reaches.

    The task exchange binds each queue by its own name (behind a delay prefix when the
    message comes back from delayed delivery), so an explicit routing key decides; without
    one the message goes to `queue`.

    Raises:
        UnknownDestination: naming what matched nothing, and the declared queues.
    """
    if exchange not in (None, "", names.TASK_EXCHANGE):
        raise UnknownDestination(
            f"exchange {exchange!r}: tasks are published to {names.TASK_EXCHANGE!r} only"
        )
    target = names.queue_of_routing_key(routing_key) if routing_key else queue
    if target is None:
        target = topology.default_queue
    for spec in topology.queues:
        if spec.name == target:
            return spec
    declared = ", ".join(q.name for q in topology.queues)
    what = f"routing key {routing_key!r}" if routing_key else f"queue {queue!r}"
    raise UnknownDestination(
        f"{what} matches no declared queue, so the task would never run; "
        f"declared queues: {declared}"
    )


def check_priority(queue: QueueSpec, priority: Any) -> None:
    """Refuse a priority the queue would drop, cap or fail to encode.

    0 is every message's priority when none is given (kombu publishes 0), so it passes on
    any queue; a queue without priorities takes nothing else.

    Raises:
        PriorityOutOfRange: naming the queue and its range (or that it has none).
    """
    if priority is None:
        return
    top = queue.max_priority or 0
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise PriorityOutOfRange(
            f"priority {priority!r} for queue {queue.name!r}: an integer 0-{top} is expected"
        )
    if 0 <= priority <= top:
        return
    if queue.max_priority is None:
        raise PriorityOutOfRange(
            f"priority {priority} on queue {queue.name!r}, which has no priorities "
            f"(a {queue.type} queue); leave priority unset"
        )
    raise PriorityOutOfRange(f"priority {priority} outside 0-{top} of queue {queue.name!r}")


def body_size(args: Any, kwargs: Any) -> int:
    """Bytes of a task's arguments as the JSON serializer writes them (within a few bytes
    of the message body, which adds the callbacks' and chain's options).

    The standard library's C encoder first: kombu's encoder, which also knows datetimes,
    UUIDs and bytes, costs about 20 us a call even for two integers."""
    value = [args or [], kwargs or {}]
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = kombu_json.dumps(value)
    return len(text.encode())


def check_size(queue: QueueSpec, size: int) -> None:
    """Raises:
    MessageTooLarge: naming the queue, its limit and the size."""
    if size > queue.max_message_bytes:
        raise MessageTooLarge(
            f"task arguments of {size} bytes exceed the {queue.max_message_bytes} bytes "
            f"queue {queue.name!r} accepts (max_message_bytes); pass a reference to the "
            "data (a URL, a key) instead of the data"
        )


def check_publish(
    topology: Topology,
    *,
    queue: str | None = None,
    exchange: str | None = None,
    routing_key: str | None = None,
    priority: Any = None,
    args: Any = None,
    kwargs: Any = None,
) -> QueueSpec:
    """All checks for one task message; the declared queue it will reach.

    Raises:
        PublishRefused: the first check that fails (a subclass says which).
    """
    spec = destination(topology, queue=queue, exchange=exchange, routing_key=routing_key)
    check_priority(spec, priority)
    check_size(spec, body_size(args, kwargs))
    return spec
