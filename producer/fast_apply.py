"""`apply_async()` / `delay()` of a Switchyard task at about a raw confirmed publish's cost.

Celery builds every task message from scratch: options merged, router consulted, headers
assembled, the body serialized, the queue bound and maybe declared through kombu's
`Producer.publish`, the frames encoded by py-amqp; about 1,500 Python calls and a
millisecond of CPU per call before the broker's confirm. Here the first call of each shape
(task and options) goes through Celery's own `apply_async`, on this sender's confirm
channel, and the message Celery published becomes the shape's template
(`producer.message_frames`). Every later call of the shape is the template stamped with
its id and arguments, written to the socket as frames encoded byte for byte as py-amqp
encodes them, and awaited until the broker acks it.

What this does not cover exactly goes to Celery's `apply_async` untouched: eager mode; a
call inside a running task (parent and root ids, trails); options outside `TEMPLATED`
(countdown, eta, expires, custom headers, retry policies...); canvas; shapes that give no
template; anything else listening to Celery's publish signals; and a publish the broker
nacked or whose connection failed. A nack means the broker did not take the message, so
Celery's path (with its own retry policy) publishes it again and the caller sees what
Celery raises. A message written whose confirm never came may have been taken: Celery
re-sends it under the same task id, as its own retry of a publish would.

One connection per process, shared by threads under a lock: a thread writes its message,
then reads the broker's answers until its own delivery tag is settled, settling the
others' on the way. After a fork the parent's connection is left alone (never closed from
the child) and the child opens its own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from amqp.exceptions import MessageNacked
from celery import Celery, Task
from celery.backends.base import BaseBackend
from celery.result import AsyncResult
from celery.utils import uuid

from execution.fast_send import Declined, install_fast_send, installed_fast_send
from metrics import instruments as m
from producer.amqp_frames import Destination
from producer.bulk import Confirms, confirm_channel, only_own_publish_receivers
from producer.message_frames import Encoded, MessageEncoder
from producer.message_template import ShapeKey, options_key

CONFIRM_TIMEOUT_S = 30.0
# `apply_async` options whose effect a template reproduces exactly: they are part of the
# shape, so the first call of each combination is Celery's and later ones stamp its message.
TEMPLATED = frozenset(
    (
        "queue",
        "exchange",
        "routing_key",
        "priority",
        "ignore_result",
        "time_limit",
        "soft_time_limit",
        "add_to_parent",
    )
)
# What became of a stamped message: confirmed; not taken (nacked, or never written); or
# unknown (written, then the connection failed or the confirm never came).
ACCEPTED, NOT_TAKEN, LOST = "accepted", "not taken", "lost"


def templated_options(options: dict[str, Any]) -> bool:
    """Whether a template reproduces these `apply_async` options exactly (queue and
    exchange by name; a kombu entity may carry its own declaration)."""
    return TEMPLATED.issuperset(options) and all(
        isinstance(options.get(k, ""), str) for k in ("queue", "exchange")
    )


def install(app: Celery, *, confirm_timeout_s: float = CONFIRM_TIMEOUT_S) -> FastApply:
    """Send `app`'s tasks through a `FastApply` from now on; return it (`close` to stop).

    Installing again (an app factory run twice) replaces the sender and closes the old one's
    connection.
    """
    previous = installed_fast_send(app)
    if isinstance(previous, FastApply):
        previous.close()
    sender = FastApply(app, confirm_timeout_s=confirm_timeout_s)
    install_fast_send(app, sender)
    return sender


class _Link:
    """One open connection of this process, its confirm channel, and a kombu producer on it
    whose `basic_publish` waits for its own confirm (as py-amqp's confirming publish does)."""

    def __init__(self, app: Celery, wait: Callable[[_Link, int], str]) -> None:
        self.pid = os.getpid()
        self.settled: dict[int, bool] = {}  # delivery tag -> refused
        self.confirms = Confirms(on_settled=self.settled.__setitem__)
        self.conn: Any = app.connection_for_write()
        try:
            self.conn.connect()
            self.channel: Any = confirm_channel(self.conn, self.confirms)
        except BaseException:
            self.conn.release()
            raise
        self.amqp: Any = self.conn.connection
        self.kept: tuple[Any, Destination] | None = None
        self._wait = wait
        self.channel.basic_publish = self._publish_confirmed
        self.producer = app.amqp.Producer(self.channel, auto_declare=False)

    def _publish_confirmed(self, message: Any, exchange: str = "", routing_key: str = "",
                           mandatory: bool = False, *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        """What Celery's publish calls on this channel: py-amqp's publish, then the wait for
        this message's confirm; a nack raises what py-amqp's confirming publish raises."""
        kwargs.pop("confirm_timeout", None)
        tag = self.confirms.next_tag
        self.confirms.published(message.properties.get("correlation_id", ""))
        sent = self.channel._basic_publish(
            message, exchange, routing_key, mandatory, *args, **kwargs
        )
        self.kept = (message, Destination(exchange, routing_key, mandatory))
        outcome = self._wait(self, tag)
        if outcome == NOT_TAKEN:
            raise MessageNacked()
        if outcome == LOST:
            raise ConnectionError("the broker connection failed before the publish was confirmed")
        return sent

    def write(self, encoded: Encoded) -> int:
        """Write one stamped message; return its delivery tag."""
        tag = self.confirms.next_tag
        frames = encoded.frames(self.channel.channel_id, self.amqp.frame_max)
        self.amqp.transport.write(frames)
        self.amqp.bytes_sent += 1
        self.confirms.published(encoded.task_id)
        return tag

    def close(self) -> None:
        try:
            self.conn.release()
        except Exception:  # a connection already broken closes as it can
            return


class FastApply:
    """The sender `execution.fast_send` offers each `apply_async` of a Switchyard task."""

    def __init__(self, app: Celery, *, confirm_timeout_s: float = CONFIRM_TIMEOUT_S) -> None:
        self.app = app
        self.confirm_timeout_s = confirm_timeout_s
        self.encoder = MessageEncoder(app)
        self._lock = threading.RLock()
        self._link: _Link | None = None
        probe = app.connection_for_write()
        self._errors: tuple[type[BaseException], ...] = (
            OSError,
            *probe.connection_errors,
            *probe.channel_errors,
        )
        self.stamped_sent = 0  # calls this sender published itself, confirmed
        self._quiet_backend: bool | None = None  # no `on_task_call` to run (rpc has one)
        os.register_at_fork(after_in_child=self._forget)

    def __call__(
        self,
        task: Task[Any, Any],
        args: Any,
        kwargs: Any,
        task_id: str | None,
        options: dict[str, Any],
    ) -> AsyncResult[Any] | Declined:
        if not self._covers(options):
            return Declined()
        args, kwargs = args or (), kwargs or {}  # as Celery reads them
        if type(args) not in {tuple, list} or type(kwargs) is not dict:
            return Declined()  # Celery says what is wrong with them
        key = options_key(task.name, options)
        try:
            encoded = self.encoder.stamp(key, task_id or uuid(), args, kwargs, self.app.thread_oid)
        except Exception:  # arguments that do not fit or encode: Celery raises its own error
            return Declined()
        if encoded is None:
            if self.encoder.seen(key):
                return Declined()  # a shape no template can reproduce
            return self._first_of_shape(task, (args, kwargs, task_id, options), key)
        return self._stamped(task, encoded, options)

    def _stamped(
        self, task: Task[Any, Any], encoded: Encoded, options: dict[str, Any]
    ) -> AsyncResult[Any] | Declined:
        outcome = self._send(encoded)
        if outcome != ACCEPTED:
            return Declined(encoded.task_id if outcome == LOST else None)
        with self._lock:
            self.stamped_sent += 1
        if encoded.labels is not None:
            m.task_sent.labels(*encoded.labels).inc()
        result: AsyncResult[Any] = task.AsyncResult(encoded.task_id)
        result.ignored = options.get("ignore_result", task.ignore_result)  # as send_task sets
        return result

    def close(self) -> None:
        """Close this process's connection; the next call opens a new one."""
        with self._lock:
            if self._link is not None and self._link.pid == os.getpid():
                self._link.close()
            self._link = None

    def _covers(self, options: dict[str, Any]) -> bool:
        app = self.app
        return (
            templated_options(options)
            and not app.conf.task_always_eager
            and not app.conf.task_send_sent_event
            and app.current_worker_task is None
            and only_own_publish_receivers()
            and self._backend_is_quiet()
        )

    def _backend_is_quiet(self) -> bool:
        """Whether the result backend does nothing when a task is sent (Celery calls its
        `on_task_call` before publishing; the rpc backend listens for the reply there)."""
        if self._quiet_backend is None:
            hook = type(self.app.backend).on_task_call
            self._quiet_backend = hook is BaseBackend.on_task_call
        return self._quiet_backend

    def _first_of_shape(
        self,
        task: Task[Any, Any],
        call: tuple[Any, dict[str, Any], str | None, dict[str, Any]],
        key: ShapeKey,
    ) -> AsyncResult[Any] | Declined:
        """Celery's own `apply_async` on this sender's channel; its message is the shape's
        template. What Celery raises (a nack, a bad argument) reaches the caller as is."""
        args, kwargs, task_id, options = call
        with self._lock:
            try:
                link = self._current()
            except self._errors:
                return Declined()
            link.kept = None
            try:
                result: AsyncResult[Any] = task.apply_async(
                    args, kwargs, task_id, producer=link.producer, **options
                )
            finally:
                if link.producer.channel is not link.channel:  # kombu revived it: start anew
                    self._drop(link)
            if link.kept is not None:
                self.encoder.learn(key, *link.kept)
            return result

    def _current(self) -> _Link:
        link = self._link
        if link is None or link.pid != os.getpid():
            link = self._link = _Link(self.app, self._await)
        return link

    def _send(self, encoded: Encoded) -> str:
        with self._lock:
            try:
                link = self._current()
            except self._errors:
                return NOT_TAKEN  # nothing written: Celery's path connects, with its retries
            try:
                tag = link.write(encoded)
            except self._errors:
                self._drop(link)
                return LOST
        return self._await(link, tag)

    def _await(self, link: _Link, tag: int) -> str:
        """Read the broker's answers until `tag` is settled; the lock is taken per read, so
        other threads write between reads."""
        deadline = time.monotonic() + self.confirm_timeout_s
        while True:
            with self._lock:
                refused = link.settled.pop(tag, None)
                if refused is not None:
                    return NOT_TAKEN if refused else ACCEPTED
                remaining = deadline - time.monotonic()
                if self._link is not link or remaining <= 0:
                    self._drop(link)
                    return LOST
                try:
                    link.conn.drain_events(timeout=remaining)
                except TimeoutError:
                    continue
                except self._errors:
                    self._drop(link)
                    return LOST

    def _drop(self, link: _Link) -> None:
        if self._link is link:
            self._link = None
        link.close()

    def _forget(self) -> None:
        """In a forked child: the parent's connection and lock are the parent's."""
        self._lock = threading.RLock()
        self._link = None
