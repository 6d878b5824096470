"""Worker-side metrics from Celery's signals: no Celery events are needed.

Counters are labelled by task name and declared queue; the queue wait is measured from the
publish-time header (or the task's ETA, when later) to the start of execution. Handlers run
in whichever process Celery sends the signal in: `task_received`, `task_revoked` and the
rejection signals in the worker's main process, the task signals in the pool's child.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from celery.exceptions import Reject
from celery.states import REJECTED, SUCCESS

from metrics import instruments as m
from metrics.exposition import (
    MULTIPROC_ENV,
    clean_multiprocess_dir,
    multiprocess_dir,
    serve_metrics,
)
from metrics.producer import PUBLISHED_AT_HEADER

# Where a worker or beat serves /metrics: a (host, port) pair in the app's configuration,
# which `config.app` fills from the settings; an app without it serves nothing.
METRICS_ADDRESS_KEY = "switchyard_metrics_address"


class _Identity:
    """The worker's host and pool, set in the main process before the pool forks."""

    hostname = ""
    pool = ""


_started_at: dict[str, float] = {}
logger = logging.getLogger(__name__)


def on_worker_init(sender: Any = None, **_: Any) -> None:
    """`worker_init` (main process, before the pool starts): clean the directory, serve."""
    nodename = str(getattr(sender, "hostname", "") or "")
    pool, _sep, host = nodename.partition("@")
    _Identity.pool, _Identity.hostname = pool, host or nodename
    if multiprocess_dir() is None:
        logger.warning(
            "%s is not set: counts made in the pool's child processes are not served",
            MULTIPROC_ENV,
        )
    _start_serving(sender)


def on_beat_init(sender: Any = None, **_: Any) -> None:
    """`beat_init`: beat serves what it publishes (tasks sent, publish failures)."""
    _start_serving(sender)


def on_worker_ready(**_: Any) -> None:
    m.child(m.worker_up, _Identity.hostname, _Identity.pool).set(1)


def on_worker_shutdown(**_: Any) -> None:
    m.child(m.worker_up, _Identity.hostname, _Identity.pool).set(0)


def on_task_received(request: Any = None, **_: Any) -> None:
    m.child(m.task_received, request.name, _queue(request.delivery_info)).inc()


def on_task_prerun(task_id: str = "", task: Any = None, **_: Any) -> None:
    now = time.time()
    request = task.request
    queue = _queue(request.delivery_info)
    m.child(m.task_started, task.name, queue).inc()
    m.child(m.worker_tasks_active, _Identity.hostname, _Identity.pool).inc()
    _started_at[task_id] = time.monotonic()
    ready_at = _ready_at(request)
    if ready_at is not None:
        m.child(m.task_queue_wait, task.name, queue).observe(max(0.0, now - ready_at))


def on_task_postrun(task_id: str = "", task: Any = None, state: str = "", **_: Any) -> None:
    """Counts success here too: `task_postrun` says the state, and no `task_success`
    receiver means Celery's tracer skips sending that signal for every task."""
    queue = _queue(task.request.delivery_info)
    m.child(m.worker_tasks_active, _Identity.hostname, _Identity.pool).dec()
    started = _started_at.pop(task_id, None)
    if started is not None:
        m.child(m.task_runtime, task.name, queue).observe(time.monotonic() - started)
    if state == SUCCESS:
        m.child(m.task_succeeded, task.name, queue).inc()
    elif state == REJECTED:
        m.child(m.task_rejected, task.name, queue).inc()


def on_task_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    """A Reject also arrives here (Celery records it as a failure); it is counted as rejected."""
    if isinstance(exception, Reject):
        return
    queue = _queue(sender.request.delivery_info)
    m.child(m.task_failed, sender.name, queue, type(exception).__name__).inc()


def on_task_retry(sender: Any = None, request: Any = None, **_: Any) -> None:
    m.child(m.task_retried, sender.name, _queue(request.delivery_info)).inc()


def on_task_revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
    m.child(m.task_revoked, sender.name, _queue(request.delivery_info)).inc()


def on_message_rejected(message: Any = None, name: str | None = None, **_: Any) -> None:
    """`task_rejected` / `task_unknown`: a message no task could run, dead-lettered."""
    task_name = name or (message.headers or {}).get("task") or ""
    m.child(m.task_rejected, task_name, _queue(message.delivery_info)).inc()


def on_message_dead_lettered(queue: str = "", kind: str = "", **_: Any) -> None:
    """`deadletter.signals.message_dead_lettered`: a copy is in the queue's dead-letter queue."""
    m.child(m.messages_dead_lettered, queue, kind).inc()


def _start_serving(sender: Any) -> None:
    app = getattr(sender, "app", None)
    address = app.conf.get(METRICS_ADDRESS_KEY) if app is not None else None
    if address is None:
        logger.warning(
            "no %s in the app's configuration: /metrics is not served", METRICS_ADDRESS_KEY
        )
        return
    clean_multiprocess_dir()
    host, port = address
    serve_metrics(str(host), int(port))


def _queue(delivery_info: dict[str, Any] | None) -> str:
    return m.queue_label((delivery_info or {}).get("routing_key"))


def _ready_at(request: Any) -> float | None:
    """When the message became due: its publish time, or its ETA when that is later."""
    published = getattr(request, PUBLISHED_AT_HEADER, None)
    if published is None:
        published = (getattr(request, "headers", None) or {}).get(PUBLISHED_AT_HEADER)
    if published is None:
        return None
    ready = float(published)
    eta = getattr(request, "eta", None)
    if eta:
        due = eta if isinstance(eta, datetime) else datetime.fromisoformat(str(eta))
        ready = max(ready, due.timestamp())
    return ready
