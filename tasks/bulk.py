"""Send many tasks at once: one channel, publisher confirms awaited as a window, not one by one.

`apply_async` with publisher confirms waits one broker round trip per task. Here every
signature still goes through Celery's own `apply_async` (routing, headers, task ids), but on a
channel whose publishes do not wait: the broker's acks are collected as they arrive and at
most `window` messages are unconfirmed at any time. A message the broker refuses (a nack,
e.g. a full queue with `x-overflow: reject-publish`) still raises, naming the refused tasks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from celery import Celery, Signature
from celery.result import AsyncResult

DEFAULT_WINDOW = 1000
CONFIRM_TIMEOUT_S = 30.0


class EnqueueRefused(RuntimeError):
    """The broker refused some of the messages; the others were accepted.

    Attributes:
        refused: task ids of the refused messages, in publish order.
        accepted: results of the messages the broker confirmed.
    """

    def __init__(self, refused: list[str], accepted: list[AsyncResult[Any]]) -> None:
        super().__init__(
            f"the broker refused {len(refused)} of {len(refused) + len(accepted)} tasks "
            f"(first: {refused[0]}); none of them will run"
        )
        self.refused = refused
        self.accepted = accepted


class _Confirms:
    """Delivery tags awaiting the broker's ack or nack, and the task ids refused so far."""

    def __init__(self) -> None:
        self.next_tag = 1
        self.pending: dict[int, str] = {}  # insertion order is tag order
        self.refused: dict[int, str] = {}

    def published(self, task_id: str) -> None:
        self.pending[self.next_tag] = task_id
        self.next_tag += 1

    def settle(self, delivery_tag: int, multiple: bool, refused: bool) -> None:
        tags = [t for t in self.pending if t <= delivery_tag] if multiple else [delivery_tag]
        for tag in tags:
            task_id = self.pending.pop(tag, None)
            if refused and task_id is not None:
                self.refused[tag] = task_id

    def refused_in_order(self) -> list[str]:
        return [self.refused[tag] for tag in sorted(self.refused)]


def enqueue_many(
    signatures: Iterable[Signature[Any]],
    app: Celery,
    *,
    window: int = DEFAULT_WINDOW,
    confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
) -> list[AsyncResult[Any]]:
    """Publish every signature over one channel; return their results once all are confirmed.

    Raises:
        EnqueueRefused: the broker nacked at least one message (all others were confirmed).
        TimeoutError: the broker confirmed nothing for `confirm_timeout_s` seconds.
    """
    confirms = _Confirms()
    results: list[AsyncResult[Any]] = []
    with app.connection_for_write() as conn:
        channel: Any = conn.channel()  # the stubs know nothing of py-amqp's channel
        try:
            channel.confirm_select()
            channel.events["basic_ack"].add(
                lambda tag, multiple: confirms.settle(tag, multiple, False)
            )
            channel.events["basic_nack"].add(
                lambda tag, multiple: confirms.settle(tag, multiple, True)
            )

            def publish(message: Any, *args: Any, **kwargs: Any) -> Any:
                confirms.published(message.properties["correlation_id"])
                return channel._basic_publish(message, *args, **kwargs)

            # A connection with `confirm_publish` waits inside every publish; this one does not.
            channel.basic_publish = publish
            producer = app.amqp.Producer(channel, auto_declare=False)
            for signature in signatures:
                results.append(signature.apply_async(producer=producer))
                if len(confirms.pending) >= window:
                    _await(conn, confirms, window // 2, confirm_timeout_s)
            _await(conn, confirms, 0, confirm_timeout_s)
        finally:
            channel.close()
    if confirms.refused:
        refused = set(confirms.refused.values())
        accepted = [r for r in results if r.id not in refused]
        raise EnqueueRefused(confirms.refused_in_order(), accepted)
    return results


def _await(conn: Any, confirms: _Confirms, at_most: int, timeout_s: float) -> None:
    """Read the broker's acks and nacks until no more than `at_most` are pending."""
    deadline = time.monotonic() + timeout_s
    while len(confirms.pending) > at_most:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(
                f"{len(confirms.pending)} messages unconfirmed after {timeout_s:.0f} s"
            )
        try:
            conn.drain_events(timeout=remaining)
        except TimeoutError:  # socket.timeout too; the deadline decides
            continue
