"""Producer-side metrics: tasks sent, publishes that failed, and the publish-time header.

Publisher confirms are on, so a publish that returns was accepted by the broker and one the
broker refuses raises; `after_task_publish` therefore counts sent tasks, and failures are
counted around Celery's task sender, for which Celery has no signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from celery.app.amqp import AMQP

from metrics import instruments as m

PUBLISHED_AT_HEADER = "switchyard_published_at"


def stamp_publish_time(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """`before_task_publish`: carry the publish time, so a worker can measure queue wait.

    A retry republishes the message, and the new publish time replaces the old one.
    """
    if headers is not None:
        headers[PUBLISHED_AT_HEADER] = time.time()


def count_sent(sender: str | None = None, routing_key: str | None = None, **_: Any) -> None:
    """`after_task_publish`: the broker confirmed the task message."""
    m.task_sent.labels(sender or "", m.queue_label(routing_key)).inc()


class InstrumentedAMQP(AMQP):
    """Celery's AMQP helper whose task sender counts the publishes that raise."""

    def _create_task_sender(self) -> Callable[..., Any]:
        send: Callable[..., Any] = super()._create_task_sender()  # type: ignore[misc]

        def send_task_message(producer: Any, name: str, message: Any, **options: Any) -> Any:
            try:
                return send(producer, name, message, **options)
            except Exception:
                m.task_publish_failed.labels(name, _queue_of(options)).inc()
                raise

        return send_task_message


def _queue_of(options: dict[str, Any]) -> str:
    queue = options.get("queue")
    if isinstance(queue, str):
        return queue
    if queue is not None and getattr(queue, "name", None):
        return str(queue.name)
    return m.queue_label(options.get("routing_key"))
