"""Send many tasks at once: one channel, publisher confirms awaited as a window, not one by one.

`apply_async` with publisher confirms waits one broker round trip per task, and builds
every message from scratch. Here the first signature of each shape (task and options) goes
through Celery's own `apply_async`, and the message Celery published becomes that shape's
template (`producer.message_template`); every later signature of the shape is the template
stamped with its id and arguments, and the stamped messages are written to the socket in
batches (`producer.amqp_frames`). The broker's acks are collected as they arrive and at most
`window` messages are unconfirmed at any time. A message the broker refuses (a nack, e.g.
a full queue with `x-overflow: reject-publish`) still raises, naming the refused tasks.

Celery's `before_task_publish`/`after_task_publish` signals are sent only for messages
Celery builds. Switchyard's own receivers are covered (the publish time is stamped, sent
tasks are counted once confirmed); when anything else listens to those signals, every
signature goes through Celery.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from itertools import takewhile
from typing import Any

from celery import Celery, Signature, signals
from celery.result import AsyncResult
from celery.utils import uuid

from metrics import instruments as m
from metrics.install import DISPATCH_PREFIX
from producer.amqp_frames import Destination, PropertiesLayout, content_frames, publish_method
from producer.message_template import HEADERS, STAMPED_FIELDS, MessageTemplate, ShapeKey, shape_key

DEFAULT_WINDOW = 1000
CONFIRM_TIMEOUT_S = 30.0
BATCH = 200  # stamped messages per socket write


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


class Confirms:
    """Delivery tags awaiting the broker's ack or nack, and the task ids refused so far.

    Parameters:
        on_settled: called with each settled tag and whether the broker refused it, for
            a caller that answers every message as soon as its own confirm arrives.
    """

    def __init__(self, on_settled: Callable[[int, bool], None] | None = None) -> None:
        self.next_tag = 1
        self.pending: dict[int, str] = {}  # insertion order is tag order
        self.refused: dict[int, str] = {}
        self.on_settled = on_settled

    def published(self, task_id: str) -> None:
        self.pending[self.next_tag] = task_id
        self.next_tag += 1

    def settle(self, delivery_tag: int, multiple: bool, refused: bool) -> None:
        # Tags are pending in publish order: a multiple ack settles a prefix, not a scan.
        tags = (
            list(takewhile(lambda t: t <= delivery_tag, self.pending))
            if multiple
            else [delivery_tag]
        )
        for tag in tags:
            task_id = self.pending.pop(tag, None)
            if task_id is None:
                continue
            if refused:
                self.refused[tag] = task_id
            if self.on_settled is not None:
                self.on_settled(tag, refused)

    def refused_in_order(self) -> list[str]:
        return [self.refused[tag] for tag in sorted(self.refused)]


class _Shape:
    """A template with the frames and result options shared by its messages."""

    def __init__(
        self,
        app: Celery,
        template: MessageTemplate,
        method_frame: bytes,
        layout: PropertiesLayout,
        queue: str,
    ) -> None:
        self.template = template
        self.method_frame = method_frame
        self.layout = layout
        self.queue = queue
        self.ignore_result = bool(template.headers.get("ignore_result"))
        task = app.tasks.get(template.name)
        # What `Task.AsyncResult` passes, looked up once.
        self.result_options: dict[str, Any] = (
            {"backend": task.backend, "task_name": task.name} if task is not None else {}
        )


class Publisher:
    """Publishes on one confirm channel: through Celery, or stamped from a template."""

    def __init__(self, app: Celery, conn: Any, channel: Any, confirms: Confirms) -> None:
        self.app = app
        self.conn = conn
        self.channel = channel
        self.confirms = confirms
        self.shapes: dict[ShapeKey, _Shape | None] = {}
        self.buffer: list[bytes] = []
        self.stamped: dict[str, tuple[str, str]] = {}  # task id -> (task name, queue label)
        self.captured: tuple[Any, dict[str, Any]] | None = None
        self.parent = app.current_worker_task
        self.templates_allowed = only_own_publish_receivers()

        def publish(message: Any, *args: Any, **kwargs: Any) -> Any:
            confirms.published(message.properties["correlation_id"])
            self.captured = (message, kwargs)
            return channel._basic_publish(message, *args, **kwargs)

        # A connection with `confirm_publish` waits inside every publish; this one does not.
        channel.basic_publish = publish
        self.producer = app.amqp.Producer(channel, auto_declare=False)

    def send(self, signature: Signature[Any]) -> AsyncResult[Any]:
        key = shape_key(signature) if self.templates_allowed else None
        shape = self.shapes.get(key) if key is not None else None
        if shape is None:
            return self._through_celery(signature, key)
        task_id = signature.options.get("task_id") or uuid()
        stamped = shape.template.stamp(task_id, signature.args, signature.kwargs)
        serialized = shape.layout.encode(stamped.properties)
        frame_max = self.conn.connection.frame_max
        self.buffer.append(shape.method_frame)
        self.buffer.append(
            content_frames(self.channel.channel_id, frame_max, serialized, stamped.body)
        )
        self.confirms.published(task_id)
        self.stamped[task_id] = (shape.template.name, shape.queue)
        if len(self.buffer) >= 2 * BATCH:
            self.flush()
        return self._result(task_id, shape, signature)

    def flush(self) -> None:
        """Write the buffered messages in one go, then read whatever the broker answered."""
        if not self.buffer:
            return
        amqp_conn = self.conn.connection
        amqp_conn.transport.write(b"".join(self.buffer))
        amqp_conn.bytes_sent += len(self.buffer)
        self.buffer.clear()
        read_available(self.conn)

    def _through_celery(self, signature: Signature[Any], key: ShapeKey | None) -> AsyncResult[Any]:
        self.flush()  # delivery tags follow the order of writes
        self.captured = None
        result: AsyncResult[Any] = signature.apply_async(producer=self.producer)
        if key is not None and key not in self.shapes:
            self.shapes[key] = self._shape_from_capture()
        return result

    def _shape_from_capture(self) -> _Shape | None:
        if self.captured is None:
            return None
        message, kwargs = self.captured
        properties = message.properties
        template = MessageTemplate.from_message(
            self.app, properties.get(HEADERS) or {}, properties, message.body
        )
        if template is None:
            return None
        destination = Destination(
            kwargs.get("exchange", ""),
            kwargs.get("routing_key", ""),
            kwargs.get("mandatory", False),
        )
        method = publish_method(self.channel.channel_id, destination)
        layout = PropertiesLayout(properties, STAMPED_FIELDS, HEADERS)
        return _Shape(self.app, template, method, layout, m.queue_label(destination.routing_key))

    def _result(self, task_id: str, shape: _Shape, signature: Signature[Any]) -> AsyncResult[Any]:
        result: AsyncResult[Any] = self.app.AsyncResult(task_id, **shape.result_options)
        result.ignored = shape.ignore_result  # as send_task sets it
        if self.parent is not None and signature.options.get("add_to_parent", True):
            self.parent.add_trail(result)
        return result

    def count(self, refused: set[str]) -> None:
        """Count the stamped messages as `after_task_publish` would have, or as failed."""
        _count(self.stamped, refused)

    def count_settled(self) -> None:
        """`count` for a long-lived channel: the messages settled so far, then forget them."""
        unsettled = set(self.confirms.pending.values())
        settled = {t: labels for t, labels in self.stamped.items() if t not in unsettled}
        self.stamped = {t: labels for t, labels in self.stamped.items() if t in unsettled}
        _count(settled, set(self.confirms.refused.values()))
        self.confirms.refused.clear()


def _count(stamped: dict[str, tuple[str, str]], refused: set[str]) -> None:
    sent: Counter[tuple[str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    for task_id, labels in stamped.items():
        (failed if task_id in refused else sent)[labels] += 1
    for (name, queue), n in sent.items():
        m.task_sent.labels(name, queue).inc(n)
    for (name, queue), n in failed.items():
        m.task_publish_failed.labels(name, queue).inc(n)


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
        TypeError: a signature's arguments do not fit its task, as `apply_async` raises;
            signatures before it may have been published.
    """
    confirms = Confirms()
    results: list[AsyncResult[Any]] = []
    with app.connection_for_write() as conn:
        channel = confirm_channel(conn, confirms)
        try:
            publisher = Publisher(app, conn, channel, confirms)
            for signature in signatures:
                results.append(publisher.send(signature))
                if len(confirms.pending) >= window:
                    publisher.flush()
                    _await(conn, confirms, window // 2, confirm_timeout_s)
            publisher.flush()
            _await(conn, confirms, 0, confirm_timeout_s)
        finally:
            channel.close()
    refused = set(confirms.refused.values())
    publisher.count(refused)
    if refused:
        accepted = [r for r in results if r.id not in refused]
        raise EnqueueRefused(confirms.refused_in_order(), accepted)
    return results


def confirm_channel(conn: Any, confirms: Confirms) -> Any:
    """A new channel of `conn` in confirm mode, whose acks and nacks settle `confirms`."""
    channel: Any = conn.channel()  # the stubs know nothing of py-amqp's channel
    channel.confirm_select()
    channel.events["basic_ack"].add(lambda tag, multiple: confirms.settle(tag, multiple, False))
    channel.events["basic_nack"].add(lambda tag, multiple: confirms.settle(tag, multiple, True))
    return channel


def only_own_publish_receivers() -> bool:
    """Whether Switchyard's metrics are all that listen to Celery's publish signals."""
    for signal in (signals.before_task_publish, signals.after_task_publish):
        for lookup_key, _receiver in signal.receivers:
            uid = lookup_key[0]
            if not (isinstance(uid, str) and uid.startswith(DISPATCH_PREFIX)):
                return False
    return True


def read_available(conn: Any) -> None:
    """Handle the acks and nacks already received, without waiting for more."""
    while True:
        try:
            conn.drain_events(timeout=0)
        except (TimeoutError, BlockingIOError):
            return


def _await(conn: Any, confirms: Confirms, at_most: int, timeout_s: float) -> None:
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
