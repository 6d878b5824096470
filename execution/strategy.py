"""The task strategy (`Task.Strategy`) every Switchyard task uses in a worker.

Celery builds one handler per task with the strategy named by the task class; the handler
turns a delivered message into a request. This one is Celery's default strategy, behind
the shared rate limit (`execution.shared_rate_limit`), with two changes in an inline pool:
the common message is decoded once (`execution.inline_handler`), and the request's ack
goes to the pool's ack batch (`execution.ack_batch`), which writes it after the task has
run, together with the acks of the tasks that ran just before.

While Celery is restoring its prefetch count after a reconnect (it raises the count one
step per ack), requests keep Celery's own ack, which drives that restoring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task
from kombu.message import Message

from compat import prefetch_restoring
from execution.inline_handler import inline_handler
from execution.inline_pool import InlinePool
from execution.shared_rate_limit import shared_rate_limit_strategy
from routing.declaration import TOPOLOGY
from routing.names import pool_of_nodename


def worker_strategy(
    task: Task[Any, Any], app: Celery, consumer: Any, **kwargs: Any
) -> Callable[..., Any]:
    """The handler of `task`'s messages for `consumer`."""
    apply_track_started(task, str(getattr(consumer, "hostname", "")))
    handle: Callable[..., Any] = shared_rate_limit_strategy(task, app, consumer, **kwargs)
    pool = getattr(consumer, "pool", None)
    if not isinstance(pool, InlinePool):
        return handle
    handle = inline_handler(task, app, consumer, fallback=handle)
    acks = pool.acks
    if acks is None:
        return handle
    acks.fit_prefetch(int(getattr(consumer, "initial_prefetch_count", 0) or 0))

    def task_message_handler(
        message: Message, body: Any, ack: Any, reject: Any, callbacks: Any, **kw: Any
    ) -> Any:
        if not prefetch_restoring(consumer):
            ack = acks.received(message)
        return handle(message, body, ack, reject, callbacks, **kw)

    return task_message_handler


def apply_track_started(task: Task[Any, Any], nodename: str) -> None:
    """A worker of a pool declared with `track_started=False` does not write STARTED for
    `task`. Celery builds the task's tracer right after its strategy (`update_strategies`),
    and the tracer reads `track_started` from the task: the worker's pool, named by its
    node name (`pool@host`), decides for every task it runs."""
    name = pool_of_nodename(nodename)
    pool = next((p for p in TOPOLOGY.pools if p.name == name), None)
    if pool is not None and not pool.track_started:
        task.track_started = False
