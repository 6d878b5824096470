"""Dead-letter queues for operators: list, inspect, replay and purge.

A message is read with `basic_get` and acknowledged only after what should happen to it
has happened: `show` returns every message to its queue; `replay` acknowledges a message
only once its republished copy is confirmed by the broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika

from deadletter import headers
from routing import names
from routing.declaration import TOPOLOGY

REPLAYED = "x-switchyard-replayed"


@dataclass(frozen=True)
class DeadLetter:
    task: str
    task_id: str
    reason: str
    source_queue: str
    deaths: int
    size: int


def dead_letter_queues() -> list[str]:
    return [names.dlq_name(q.name) for q in TOPOLOGY.queues] + [names.UNROUTABLE_QUEUE]


def check_queue(queue: str) -> None:
    if queue not in dead_letter_queues():
        raise ValueError(
            f"{queue!r} is not a dead-letter queue; one of: {', '.join(dead_letter_queues())}"
        )


@contextmanager
def channel(broker_url: str) -> Iterator[Any]:
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        yield ch
    finally:
        if conn.is_open:
            conn.close()


def depths(ch: Any) -> dict[str, int]:
    return {
        q: int(ch.queue_declare(q, passive=True).method.message_count) for q in dead_letter_queues()
    }


def describe(props: Any, body: bytes, queue: str) -> DeadLetter:
    hdrs = props.headers or {}
    deaths = hdrs.get("x-death") or []
    native_reason = f"broker: {deaths[0].get('reason')}" if deaths else ""
    source = hdrs.get(headers.SOURCE_QUEUE) or (deaths[0].get("queue") if deaths else "")
    return DeadLetter(
        task=str(hdrs.get("task") or "?"),
        task_id=str(hdrs.get("id") or "?"),
        reason=str(hdrs.get(headers.REASON) or native_reason or "unroutable"),
        source_queue=str(source or queue.removesuffix(names.DLQ_SUFFIX)),
        deaths=int(sum(d.get("count", 1) for d in deaths)) or 1,
        size=len(body),
    )


def show(ch: Any, queue: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` messages from the head of `queue`; all are returned to it."""
    found = []
    for _ in range(limit):
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        found.append(describe(props, body, queue))
    ch.basic_recover(requeue=True)
    return found


def replay(ch: Any, queue: str, limit: int | None) -> int:
    """Republish up to `limit` messages to the queue they came from; return how many.

    A message whose source queue is unknown (unroutable) stays where it is.
    """
    replayed = 0
    skipped_tags = []
    while limit is None or replayed < limit:
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        target = describe(props, body, queue).source_queue
        if target not in {q.name for q in TOPOLOGY.queues}:
            skipped_tags.append(method.delivery_tag)
            continue
        hdrs = {
            k: v
            for k, v in (props.headers or {}).items()
            if k
            not in (
                headers.REASON,
                headers.SOURCE_QUEUE,
                headers.WORKER_LOSSES,
                "x-death",
                "x-first-death-exchange",
                "x-first-death-queue",
                "x-first-death-reason",
                "x-last-death-exchange",
                "x-last-death-queue",
                "x-last-death-reason",
            )
        }
        hdrs[REPLAYED] = int((props.headers or {}).get(REPLAYED, 0)) + 1
        props.headers = hdrs
        # confirm_delivery makes this raise unless the broker confirmed the copy.
        ch.basic_publish(names.TASK_EXCHANGE, target, body, props, mandatory=True)
        ch.basic_ack(method.delivery_tag)
        replayed += 1
    for tag in skipped_tags:
        ch.basic_nack(tag, requeue=True)
    return replayed


def purge(ch: Any, queue: str) -> int:
    return int(ch.queue_purge(queue).method.message_count)
