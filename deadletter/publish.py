"""Republish a consumed message, confirmed, before its original is acknowledged."""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.message import Message

from deadletter import headers
from deadletter.signals import message_dead_lettered
from routing.names import DEAD_LETTER_EXCHANGE, TASK_EXCHANGE, dlq_name, queue_of_routing_key


def source_queue(message: Message) -> str:
    """The work queue a message was consumed from: its routing key without a delay prefix."""
    return queue_of_routing_key(str(message.delivery_info.get("routing_key") or ""))


def republish(
    app: Celery,
    message: Message,
    *,
    exchange: str,
    routing_key: str,
    extra_headers: dict[str, Any],
    base_headers: dict[str, Any] | None = None,
) -> None:
    """Publish a copy of `message` with `extra_headers` over `base_headers` (by default the
    message's own); returns once the broker confirmed.

    The body is passed through untouched (no decode, no re-encode), so even a message
    that cannot be decoded keeps its exact bytes.
    """
    properties = message.properties
    if base_headers is None:
        base_headers = message.headers or {}
    with app.producer_or_acquire() as producer:
        producer.publish(
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            headers={**base_headers, **extra_headers},
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            priority=properties.get("priority"),
            correlation_id=properties.get("correlation_id"),
            reply_to=properties.get("reply_to"),
            delivery_mode=2,
            retry=True,
            retry_policy={"max_retries": 3},
        )


def dead_letter(app: Celery, message: Message, reason: str, *, kind: str) -> None:
    """Copy `message` to its queue's dead-letter queue with `reason`; the caller acks it.

    `kind` is a short fixed word for metrics; `reason` is the full sentence for people.
    """
    queue = source_queue(message)
    republish(
        app,
        message,
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key=dlq_name(queue),
        extra_headers={headers.REASON: reason[:1000], headers.SOURCE_QUEUE: queue},
    )
    message_dead_lettered.send(sender=app, queue=queue, kind=kind, reason=reason)


def requeue_counted(app: Celery, message: Message, losses: int) -> None:
    """Copy `message` back to its queue with the number of workers it has cost; the caller
    acks the original."""
    republish(
        app,
        message,
        exchange=TASK_EXCHANGE,
        routing_key=source_queue(message),
        extra_headers={headers.WORKER_LOSSES: losses},
    )
