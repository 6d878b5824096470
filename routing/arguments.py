"""The one builder of queue arguments.

RabbitMQ refuses to redeclare a queue with different arguments (PRECONDITION_FAILED
inequivalent arg), so every queue the project declares, work queue, dead-letter queue or
the unroutable queue, gets its arguments from this function and nowhere else.
"""

from __future__ import annotations

from typing import Any

from routing.model import QueueType


def queue_arguments(
    queue_type: QueueType,
    *,
    dead_letter_exchange: str | None = None,
    dead_letter_routing_key: str | None = None,
    max_priority: int | None = None,
    delivery_limit: int | None = None,
    max_length: int | None = None,
    message_ttl_ms: int | None = None,
) -> dict[str, Any]:
    """AMQP `x-` arguments for a queue; only what is given is set."""
    args: dict[str, Any] = {"x-queue-type": queue_type}
    if dead_letter_exchange is not None:
        args["x-dead-letter-exchange"] = dead_letter_exchange
        if dead_letter_routing_key is not None:
            args["x-dead-letter-routing-key"] = dead_letter_routing_key
        if queue_type == "quorum":
            # Dead-lettering that is itself confirmed: a message is never dropped on its
            # way to the dead-letter queue. It requires the reject-publish overflow.
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
    if max_priority is not None:
        args["x-max-priority"] = max_priority
    if delivery_limit is not None:
        args["x-delivery-limit"] = delivery_limit
    if max_length is not None:
        args["x-max-length"] = max_length
        args["x-overflow"] = "reject-publish"  # a full queue refuses; confirms make it raise
    if message_ttl_ms is not None:
        args["x-message-ttl"] = message_ttl_ms
    return args
