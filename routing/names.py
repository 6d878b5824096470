"""Names derived from one canonical name, so no related name is ever typed twice."""

from __future__ import annotations

TASK_EXCHANGE = "switchyard.tasks"
DEAD_LETTER_EXCHANGE = "switchyard.dlx"
UNROUTABLE_EXCHANGE = "switchyard.unroutable"
UNROUTABLE_QUEUE = "unroutable"
DLQ_SUFFIX = ".dlq"


def dlq_name(queue: str) -> str:
    """The dead-letter queue of a work queue."""
    return queue + DLQ_SUFFIX


def worker_nodename(pool: str) -> str:
    """The Celery node name of a pool's worker; `%h` expands to the host (pod) name."""
    return f"{pool}@%h"


def delayed_binding_key(queue: str) -> str:
    """The extra binding Celery's native delayed delivery adds from the task exchange to a
    queue, so a message whose routing key carries a delay prefix still reaches it."""
    return f"#.{queue}"
