"""Every metric Switchyard exposes, defined once: name, type, labels and meaning.

The worker instrumentation, the queue exporter, the alert rules, the dashboard and the
table in docs/metrics.md are all derived from this list. Names follow
danihodovic/celery-exporter where the meaning is the same (`celery_task_*`, `celery_worker_*`,
`celery_queue_length`, with the labels `name`, `queue_name`, `hostname`, `exception`), so its
Grafana mixin works unchanged; what it has no name for is prefixed `switchyard_`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MetricKind = Literal["counter", "gauge", "histogram"]
Source = Literal["producer", "worker", "exporter", "api"]
GaugeMode = Literal["livesum", "livemax"]

# Label names, used by the instrumentation and in every generated query.
TASK = "name"
QUEUE = "queue_name"
EXCEPTION = "exception"
HOSTNAME = "hostname"
POOL = "pool"
KIND = "kind"
ROUTE = "route"
METHOD = "method"
STATUS = "status"

# Seconds: from a millisecond task to the longest time limit a pool may have.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0, 1800.0,
)  # fmt: skip

# Seconds: from a sub-millisecond publish or event-loop stall to a request that waited long.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


@dataclass(frozen=True)
class MetricSpec:
    """One metric as PromQL sees it (`name` ends in `_total` for a counter).

    Parameters:
        source: which process exposes it; the metrics reference says so per metric.
        gauge_mode: how prometheus_client's multiprocess mode combines a gauge's values
            across a worker's processes (dead processes are dropped from both modes).
    """

    name: str
    kind: MetricKind
    labels: tuple[str, ...]
    help: str
    source: Source
    buckets: tuple[float, ...] = ()
    gauge_mode: GaugeMode = "livesum"

    def __post_init__(self) -> None:
        if (self.kind == "counter") != self.name.endswith("_total"):
            raise ValueError(f"metric {self.name}: counters, and only counters, end in _total")
        if (self.kind == "histogram") != bool(self.buckets):
            raise ValueError(f"metric {self.name}: histograms, and only histograms, have buckets")

    @property
    def family(self) -> str:
        """The name given to prometheus_client, which appends `_total` to counters."""
        return self.name.removesuffix("_total")


_TASK_LABELS = (TASK, QUEUE)

TASK_SENT = MetricSpec(
    "celery_task_sent_total",
    "counter",
    _TASK_LABELS,
    "Task messages published and confirmed by the broker.",
    "producer",
)
TASK_PUBLISH_FAILED = MetricSpec(
    "switchyard_task_publish_failed_total",
    "counter",
    _TASK_LABELS,
    "Task publishes that raised: refused by the broker, over a queue limit, or no connection.",
    "producer",
)
TASK_RECEIVED = MetricSpec(
    "celery_task_received_total",
    "counter",
    _TASK_LABELS,
    "Task messages a worker took from its queue.",
    "worker",
)
TASK_STARTED = MetricSpec(
    "celery_task_started_total",
    "counter",
    _TASK_LABELS,
    "Task executions started (a retried task starts once per attempt).",
    "worker",
)
TASK_SUCCEEDED = MetricSpec(
    "celery_task_succeeded_total",
    "counter",
    _TASK_LABELS,
    "Task executions that returned.",
    "worker",
)
TASK_FAILED = MetricSpec(
    "celery_task_failed_total",
    "counter",
    (*_TASK_LABELS, EXCEPTION),
    "Task executions that raised, by exception class; retries and rejections are not failures.",
    "worker",
)
TASK_RETRIED = MetricSpec(
    "celery_task_retried_total",
    "counter",
    _TASK_LABELS,
    "Task executions that asked to be retried later.",
    "worker",
)
TASK_REJECTED = MetricSpec(
    "celery_task_rejected_total",
    "counter",
    _TASK_LABELS,
    "Task messages a worker rejected (dead-lettered): Reject raised, unknown task, bad message.",
    "worker",
)
TASK_REVOKED = MetricSpec(
    "celery_task_revoked_total",
    "counter",
    _TASK_LABELS,
    "Tasks revoked before or while running.",
    "worker",
)
DEAD_LETTERED_BY_WORKER = MetricSpec(
    "switchyard_messages_dead_lettered_total",
    "counter",
    (QUEUE, KIND),
    "Messages a worker moved to a dead-letter queue, by kind: rejected, worker_lost, "
    "unknown_task, unknown_message, invalid_task, malformed, undecodable.",
    "worker",
)
TASK_RUNTIME = MetricSpec(
    "celery_task_runtime",
    "histogram",
    _TASK_LABELS,
    "Seconds a task execution took, whatever its outcome.",
    "worker",
    buckets=DURATION_BUCKETS,
)
TASK_QUEUE_WAIT = MetricSpec(
    "switchyard_task_queue_wait_seconds",
    "histogram",
    _TASK_LABELS,
    "Seconds from publish (or from its ETA, when later) to the start of execution.",
    "worker",
    buckets=DURATION_BUCKETS,
)
WORKER_TASKS_ACTIVE = MetricSpec(
    "celery_worker_tasks_active",
    "gauge",
    (HOSTNAME, POOL),
    "Tasks executing now in the worker.",
    "worker",
    gauge_mode="livesum",
)
WORKER_UP = MetricSpec(
    "celery_worker_up",
    "gauge",
    (HOSTNAME, POOL),
    "1 while the worker consumes; 0 while it shuts down.",
    "worker",
    gauge_mode="livemax",
)
QUEUE_READY = MetricSpec(
    "celery_queue_length",
    "gauge",
    (QUEUE,),
    "Messages ready for delivery in a declared queue (work, dead-letter or unroutable).",
    "exporter",
)
QUEUE_UNACKED = MetricSpec(
    "switchyard_queue_messages_unacknowledged",
    "gauge",
    (QUEUE,),
    "Messages delivered to consumers and not yet acknowledged (prefetched or running).",
    "exporter",
)
QUEUE_CONSUMERS = MetricSpec(
    "celery_active_consumer_count",
    "gauge",
    (QUEUE,),
    "Consumers attached to a declared queue.",
    "exporter",
)
QUEUE_PUBLISHED = MetricSpec(
    "switchyard_queue_messages_published_total",
    "counter",
    (QUEUE,),
    "Messages published into a declared queue, as the broker counts them; rate() it.",
    "exporter",
)
QUEUE_DELIVERED = MetricSpec(
    "switchyard_queue_messages_delivered_total",
    "counter",
    (QUEUE,),
    "Messages delivered from a declared queue to consumers, as the broker counts them.",
    "exporter",
)
DEAD_LETTERED = MetricSpec(
    "switchyard_dead_letter_messages",
    "gauge",
    (QUEUE,),
    "Messages (ready and unacknowledged) in the dead-letter queue of the work queue named.",
    "exporter",
)
UNROUTABLE = MetricSpec(
    "switchyard_unroutable_messages",
    "gauge",
    (),
    "Messages in the unroutable queue: published with a routing key no queue is bound to.",
    "exporter",
)
BROKER_UP = MetricSpec(
    "switchyard_broker_up",
    "gauge",
    (),
    "1 when the last scrape of the broker's management API succeeded, else 0.",
    "exporter",
)
EXPORTER_SCRAPE_ERRORS = MetricSpec(
    "switchyard_exporter_scrape_errors_total",
    "counter",
    (),
    "Scrapes of the broker's management API that failed.",
    "exporter",
)
API_REQUESTS = MetricSpec(
    "switchyard_api_requests_total",
    "counter",
    (ROUTE, METHOD, STATUS),
    "HTTP requests the producer API answered, by route template, method and status code.",
    "api",
)
API_ENQUEUE = MetricSpec(
    "switchyard_api_enqueue_seconds",
    "histogram",
    (TASK,),
    "Seconds from a request's enqueue to the broker's confirm of its task message.",
    "api",
    buckets=LATENCY_BUCKETS,
)
API_LOOP_LAG = MetricSpec(
    "switchyard_api_event_loop_lag_seconds",
    "histogram",
    (HOSTNAME,),
    "How late the API's event loop ran a timer: time it spent blocked by something.",
    "api",
    buckets=LATENCY_BUCKETS,
)

ALL: tuple[MetricSpec, ...] = (
    TASK_SENT,
    TASK_PUBLISH_FAILED,
    TASK_RECEIVED,
    TASK_STARTED,
    TASK_SUCCEEDED,
    TASK_FAILED,
    TASK_RETRIED,
    TASK_REJECTED,
    TASK_REVOKED,
    DEAD_LETTERED_BY_WORKER,
    TASK_RUNTIME,
    TASK_QUEUE_WAIT,
    WORKER_TASKS_ACTIVE,
    WORKER_UP,
    QUEUE_READY,
    QUEUE_UNACKED,
    QUEUE_CONSUMERS,
    QUEUE_PUBLISHED,
    QUEUE_DELIVERED,
    DEAD_LETTERED,
    UNROUTABLE,
    BROKER_UP,
    EXPORTER_SCRAPE_ERRORS,
    API_REQUESTS,
    API_ENQUEUE,
    API_LOOP_LAG,
)
