"""Hook the metrics into a Celery app: one call from the app factory."""

from __future__ import annotations

from celery import Celery, signals

from deadletter.signals import message_dead_lettered
from metrics import producer, worker

DISPATCH_PREFIX = "switchyard.metrics."  # dispatch_uid of every handler connected here

_HANDLERS = (
    (signals.before_task_publish, producer.stamp_publish_time),
    (signals.after_task_publish, producer.count_sent),
    (signals.worker_init, worker.on_worker_init),
    (signals.beat_init, worker.on_beat_init),
    (signals.worker_ready, worker.on_worker_ready),
    (signals.worker_shutdown, worker.on_worker_shutdown),
    (signals.task_received, worker.on_task_received),
    (signals.task_prerun, worker.on_task_prerun),
    (signals.task_postrun, worker.on_task_postrun),
    (signals.task_failure, worker.on_task_failure),
    (signals.task_retry, worker.on_task_retry),
    (signals.task_revoked, worker.on_task_revoked),
    (signals.task_rejected, worker.on_message_rejected),
    (signals.task_unknown, worker.on_message_rejected),
    (message_dead_lettered, worker.on_message_dead_lettered),
)


def instrument(app: Celery) -> None:
    """Count publishes and task executions of `app`; reads no settings until a worker starts.

    The signal handlers are process-wide (Celery's signals are), so connecting twice is
    harmless: a handler is connected once.
    """
    app.amqp_cls = f"{producer.InstrumentedAMQP.__module__}:{producer.InstrumentedAMQP.__name__}"
    for signal, handler in _HANDLERS:
        signal.connect(handler, weak=False, dispatch_uid=f"{DISPATCH_PREFIX}{handler.__name__}")
