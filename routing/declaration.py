"""The declaration: every queue, route and pool of this deployment, typed once.

Adding a queue is one `QueueSpec`, one `Route` and one `PoolSpec` here, then
`switchyard apply` (docs/adding-a-queue.md). The routes' patterns name the task modules
workers import. Task names are Celery's defaults: the module path plus the function name.
"""

from __future__ import annotations

from routing.egress import HTTP, HTTPS
from routing.model import PoolSpec, QueueSpec, Route, Topology

TOPOLOGY = Topology(
    default_queue="default",
    queues=(
        QueueSpec("default", description="small general tasks"),
        QueueSpec(
            "media_heavy",
            type="classic",
            max_priority=10,
            description="long CPU-bound transcodes; priority 0-10",
        ),
        QueueSpec("webhooks", description="outbound webhooks, retried with backoff"),
        QueueSpec("external_api", description="calls to a rate-limited external API"),
        QueueSpec("analytics", description="extract/analyze/summarize pipelines"),
        QueueSpec("maintenance", description="scheduled database maintenance"),
    ),
    routes=(
        Route("tasks.media.*", "media_heavy", priority=5),
        Route("tasks.inventory.*", "webhooks"),
        Route("tasks.external.*", "external_api"),
        Route("tasks.analytics.*", "analytics"),
        Route("tasks.maintenance.*", "maintenance"),
        Route("tasks.demo.*", "default"),
    ),
    pools=(
        PoolSpec(
            "default",
            queues=("default",),
            # Short tasks run inline: prefork's pickling to a child and back was most of
            # this pool's CPU per task (`switchyard bench`). Scale by replicas.
            kind="inline",
            concurrency=1,
            replicas=2,
            max_replicas=8,
            # An inline worker waits for the broker between acks and deliveries: 64 in
            # flight, acked 32 at a time (`execution.ack_batch`), keep it busy and halve the
            # quorum queue's CPU per task against 16 acked 8 at a time (docs/pools.md).
            prefetch_multiplier=64,
            max_tasks_per_child=None,
            description="throughput pool for short tasks, run inline",
            log_level="WARNING",
            # A STARTED write per task was half the database work of a task whose result
            # is stored (docs/pools.md).
            track_started=False,
        ),
        PoolSpec(
            "media-heavy",
            queues=("media_heavy",),
            concurrency=2,
            prefetch_multiplier=1,
            soft_time_limit_s=1500,
            time_limit_s=1620,
            max_tasks_per_child=50,
            description="prefetch 1 so priorities hold",
        ),
        PoolSpec(
            "webhooks",
            queues=("webhooks",),
            kind="threads",
            concurrency=8,
            prefetch_multiplier=1,
            soft_time_limit_s=25,
            time_limit_s=30,
            max_tasks_per_child=None,
            description="I/O-bound, threads",
            # Webhook receivers are customers' URLs: any address, HTTPS or plain HTTP.
            egress=(HTTPS, HTTP),
        ),
        PoolSpec(
            "external-api",
            queues=("external_api",),
            concurrency=1,
            prefetch_multiplier=1,
            soft_time_limit_s=50,
            time_limit_s=60,
            # The task's rate limit is shared by every replica: two keep it available.
            replicas=2,
            description="rate-limited tasks alone, so they starve nothing",
            egress=(HTTPS,),
        ),
        PoolSpec("analytics", queues=("analytics",), concurrency=2, prefetch_multiplier=2),
        PoolSpec(
            "maintenance",
            queues=("maintenance",),
            concurrency=1,
            prefetch_multiplier=1,
            soft_time_limit_s=1200,
            time_limit_s=1500,
            max_replicas=1,
        ),
    ),
)
