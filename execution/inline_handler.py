"""The handler of an inline pool's task messages: Celery's default strategy, decoding once.

Celery's default strategy decodes a task message's JSON body to see which protocol it
speaks, builds the request around the still-encoded body, and the pool decodes it again
in `fast_trace_task`, as a prefork child must, since it gets the body's bytes. An inline
pool runs the task in the process that decoded it, so this handler gives the request the
decoded body (`decoded=True`, as Celery's own handler of older protocols does) and the
tracer unpacks it without a second decode.

It takes the common message only: protocol 2, no ETA, no Celery rate limit, task events
and the per-task `received` log off (task events are checked per message: `celery control
enable_events` turns them on in a running worker). Any other message, and any task the
shortcut does not fit, goes to Celery's handler (`fallback`): what happens to it is what
Celery does.
What the common message goes through is Celery's own: its `Request` class, the revoked
check, the `task_received` signal, the reserved-requests bookkeeping (`inspect reserved`,
warm shutdown) and the consumer's `on_task_request`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Celery, Task, signals
from celery.utils.imports import symbol_by_name
from celery.worker.request import create_request_cls  # type: ignore[attr-defined]
from celery.worker.state import task_reserved
from kombu.message import Message

Handler = Callable[..., Any]

# The logger Celery's default strategy logs each received task to, at INFO.
CELERY_STRATEGY_LOGGER = "celery.worker.strategy"


def fits(task: Task[Any, Any], consumer: Any) -> bool:
    """Whether every message of `task` that is otherwise common can take the shortcut."""
    return not (
        getattr(task, "shared_rate_limit", None)  # its bucket sits in front of the handler
        or (task.rate_limit and not consumer.disable_rate_limits)
        or logging.getLogger(CELERY_STRATEGY_LOGGER).isEnabledFor(logging.INFO)
    )


def sends_task_events(eventer: Any) -> bool:
    """Whether the worker's event dispatcher sends task events now (a dispatcher limited to
    groups that leave out "task" drops them: the worker's default without `-E`)."""
    return bool(
        eventer is not None and eventer.enabled and (not eventer.groups or "task" in eventer.groups)
    )


def inline_handler(task: Task[Any, Any], app: Celery, consumer: Any, fallback: Handler) -> Handler:
    """The handler of `task`'s messages; `fallback` (Celery's) when the shortcut never fits."""
    if not fits(task, consumer):
        return fallback
    hostname = consumer.hostname
    eventer = consumer.event_dispatcher
    connection_errors = consumer.connection_errors
    revoked_tasks = consumer.controller.state.revoked
    handle = consumer.on_task_request
    utc = app.uses_utc_timezone()
    # Its requests get no event dispatcher: a message arrives here only while task events
    # are off, and a request's own `send_event` would only find them off again.
    request_cls = create_request_cls(
        symbol_by_name(task.Request), task, consumer.pool, hostname, None, app=app
    )
    received = signals.task_received
    may_send_events = bool(task.send_events)

    def task_message_handler(
        message: Message, body: Any, ack: Any, reject: Any, callbacks: Any, **kw: Any
    ) -> Any:
        headers = message.headers
        if (
            body is not None
            or headers.get("eta") is not None
            or (may_send_events and sends_task_events(eventer))
        ):
            return fallback(message, body, ack, reject, callbacks, **kw)
        payload = message.payload  # a decode error propagates as from Celery's handler
        if type(payload) is not list or len(payload) != 3:
            return fallback(message, body, ack, reject, callbacks, **kw)
        req = request_cls(
            message,
            on_ack=ack,
            on_reject=reject,
            app=app,
            hostname=hostname,
            eventer=None,
            task=task,
            connection_errors=connection_errors,
            body=payload,
            headers=headers,
            decoded=True,
            utc=utc,
        )
        if (req.expires or req.id in revoked_tasks) and req.revoked():
            return None
        received.send(sender=consumer, request=req)
        task_reserved(req)
        if callbacks:
            for callback in callbacks:
                callback(req)
        handle(req)
        return None

    return task_message_handler
