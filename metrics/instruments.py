"""The prometheus_client objects that producers and workers update, built from the definitions.

Creating them registers nothing on disk: in multiprocess mode a value file is opened only
when a labelled child is first used, after the worker has cleaned its metrics directory.
So every metric a worker process imports has labels (an unlabelled one opens its file at once).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

from prometheus_client import Counter, Gauge, Histogram

from metrics import definitions as d
from routing.declaration import TOPOLOGY


def _counter(spec: d.MetricSpec) -> Counter:
    return Counter(spec.family, spec.help, spec.labels)


def _histogram(spec: d.MetricSpec) -> Histogram:
    return Histogram(spec.family, spec.help, spec.labels, buckets=spec.buckets)


def _gauge(spec: d.MetricSpec) -> Gauge:
    return Gauge(spec.family, spec.help, spec.labels, multiprocess_mode=spec.gauge_mode)


task_sent = _counter(d.TASK_SENT)
task_publish_failed = _counter(d.TASK_PUBLISH_FAILED)
task_received = _counter(d.TASK_RECEIVED)
task_started = _counter(d.TASK_STARTED)
task_succeeded = _counter(d.TASK_SUCCEEDED)
task_failed = _counter(d.TASK_FAILED)
task_retried = _counter(d.TASK_RETRIED)
task_rejected = _counter(d.TASK_REJECTED)
task_revoked = _counter(d.TASK_REVOKED)
messages_dead_lettered = _counter(d.DEAD_LETTERED_BY_WORKER)
task_runtime = _histogram(d.TASK_RUNTIME)
task_queue_wait = _histogram(d.TASK_QUEUE_WAIT)
worker_tasks_active = _gauge(d.WORKER_TASKS_ACTIVE)
worker_up = _gauge(d.WORKER_UP)
api_requests = _counter(d.API_REQUESTS)
api_enqueue = _histogram(d.API_ENQUEUE)
api_loop_lag = _histogram(d.API_LOOP_LAG)

# Routing keys remembered with their label: the queues, and delayed keys (`<bits>.<queue>`).
QUEUE_LABEL_CACHE = 1024
# Labelled children remembered per metric and label values (task, queue, host and pool).
CHILD_CACHE = 4096

_Metric = TypeVar("_Metric", Counter, Gauge, Histogram)
_children: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: _Metric, *labels: str) -> _Metric:
    """`metric.labels(*labels)`, remembered: a worker updates the same few children for
    every task, and `labels()` (a lock, a dict lookup, argument checks) cost as much as
    the update itself."""
    key = (id(metric), labels)
    found: _Metric | None = _children.get(key)
    if found is None:
        if len(_children) >= CHILD_CACHE:
            _children.clear()
        found = _children[key] = metric.labels(*labels)
    return found


# Longest first, so a queue whose name ends in another's is matched as itself.
_DECLARED_QUEUES = sorted((q.name for q in TOPOLOGY.queues), key=len, reverse=True)


@lru_cache(maxsize=QUEUE_LABEL_CACHE)
def queue_label(routing_key: str | None) -> str:
    """The declared queue a routing key reaches, for the `queue_name` label.

    Bindings are exact queue names, but a delayed message arrives with Celery's
    `<bits>.<queue>` routing key; an undeclared key is reported as it is.
    """
    if not routing_key:
        return ""
    for name in _DECLARED_QUEUES:
        if routing_key == name or routing_key.endswith("." + name):
            return name
    return routing_key
