"""The broker's own limits, measured in the same run: what no Celery configuration can beat.

Raw kombu publishes (no confirms, no Celery) and raw pika consume + ack, one message at a
time as a late-acking worker does, on a scratch queue of the same type as the queue the
no-op probe goes to; and the same consume rate on a priority queue built like the declared
one, against a plain queue of the same type. Each scratch queue is deleted afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pika
from kombu import Connection, Producer

from config.settings import get_settings
from ops.bench.model import Figure, Progress
from ops.bench.tasks import noop
from routing.arguments import queue_arguments
from routing.declaration import TOPOLOGY
from routing.model import QueueSpec

BODY = b'[[], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]'
CONSUME_TIMEOUT_S = 120.0

RAW_PUBLISH = Figure("raw_publish", "raw kombu publish (no confirms)", "msg/s", "higher")
RAW_CONSUME = Figure("raw_consume", "raw pika consume + ack", "msg/s", "higher")
PLAIN_QUEUE = Figure("plain_queue", "publish + consume, plain queue", "msg/s", "higher")
PRIORITY_QUEUE = Figure("priority_queue", "publish + consume, priority queue", "msg/s", "higher")
PRIORITY_COST = Figure("priority_cost", "priority queue rate / plain", "ratio", "higher")
FIGURES = (RAW_PUBLISH, RAW_CONSUME, PLAIN_QUEUE, PRIORITY_QUEUE, PRIORITY_COST)


def probe_queue() -> QueueSpec:
    """The declared queue the no-op probe is routed to."""
    route = TOPOLOGY.route_for(noop.name)
    return TOPOLOGY.queue(route.queue if route else TOPOLOGY.default_queue)


def priority_queue() -> QueueSpec:
    """The first declared queue with priorities (the one whose cost is measured)."""
    return next(q for q in TOPOLOGY.queues if q.max_priority is not None)


def measure(messages: int, progress: Progress) -> dict[str, float]:
    """Every reference figure, from `messages` messages per scratch queue."""
    figures: dict[str, float] = {}
    spec = probe_queue()
    with scratch_queue(queue_arguments(spec.type)) as name:
        figures[RAW_PUBLISH.key] = _publish(name, messages, priorities=False)
        figures[RAW_CONSUME.key] = _consume(name, messages)
    progress(
        f"raw publish {figures[RAW_PUBLISH.key]:,.0f}/s, consume {figures[RAW_CONSUME.key]:,.0f}/s"
    )
    ranked = priority_queue()
    with scratch_queue(queue_arguments(ranked.type)) as name:
        figures[PLAIN_QUEUE.key] = _round(name, messages, priorities=False)
    with scratch_queue(queue_arguments(ranked.type, max_priority=ranked.max_priority)) as name:
        figures[PRIORITY_QUEUE.key] = _round(name, messages, priorities=True)
    figures[PRIORITY_COST.key] = figures[PRIORITY_QUEUE.key] / figures[PLAIN_QUEUE.key]
    progress(f"priority queue at {figures[PRIORITY_COST.key]:.2f}x the rate of a plain one")
    return figures


@contextmanager
def scratch_queue(arguments: dict[str, Any]) -> Iterator[str]:
    """A durable queue with `arguments` under a fresh name, deleted on exit."""
    name = f"bench.scratch.{uuid.uuid4().hex[:8]}"
    with _connection() as conn:
        channel: Any = conn.channel()
        channel.queue_declare(queue=name, durable=True, auto_delete=False, arguments=arguments)
        try:
            yield name
        finally:
            channel.queue_delete(queue=name)
            channel.close()


def _publish(queue: str, messages: int, priorities: bool) -> float:
    with _connection() as conn:
        producer = Producer(conn.channel())
        started = time.perf_counter()
        top = priority_queue().max_priority or 0
        for i in range(messages):
            producer.publish(
                BODY,
                routing_key=queue,
                content_type="application/json",
                content_encoding="utf-8",
                priority=i % (top + 1) if priorities else 0,
            )
        return messages / (time.perf_counter() - started)


def _consume(queue: str, messages: int) -> float:
    """Consume and ack `messages`, each acked alone; messages per second."""
    params = pika.URLParameters(get_settings().broker_url)
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=100)
        started = time.perf_counter()
        deliveries = channel.consume(queue, inactivity_timeout=CONSUME_TIMEOUT_S)
        for received, (method, _, _) in enumerate(deliveries, start=1):
            if method is None:
                raise TimeoutError(f"{queue}: {received - 1} of {messages} after the timeout")
            channel.basic_ack(method.delivery_tag)
            if received == messages:
                break
        elapsed = time.perf_counter() - started
        channel.cancel()
        return messages / elapsed
    finally:
        connection.close()


def _round(queue: str, messages: int, priorities: bool) -> float:
    """Publish then consume `messages`: messages per second over both."""
    started = time.perf_counter()
    _publish(queue, messages, priorities)
    _consume(queue, messages)
    return messages / (time.perf_counter() - started)


def _connection() -> Connection:
    return Connection(get_settings().broker_url, heartbeat=0, connect_timeout=5)
