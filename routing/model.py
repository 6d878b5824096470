"""The vocabulary of the declaration: queues, routes, pools, and the checks run on load."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from routing.egress import Egress

from routing.names import DLQ_SUFFIX, PARKED_SUFFIX

QueueType = Literal["classic", "quorum"]
PoolKind = Literal["prefork", "threads", "solo", "inline"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

MAX_PRIORITY_LIMIT = 255  # AMQP allows 1-255; RabbitMQ advises 10 or fewer
DEFAULT_DELIVERY_LIMIT = 5
_GLOB_CHARS = "*?[]"
# RabbitMQ's own `max_message_size` (128 MiB by default since 3.8): a queue's publish-time
# limit must stay below it, so a caller hears the queue's limit, not a closed channel.
BROKER_MAX_MESSAGE_BYTES = 128 * 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
# Kinds whose worker cannot interrupt a running task: Celery's solo pool runs it in the
# consumer's thread with nothing watching the clock (`inline` is solo plus a guard).
KINDS_WITHOUT_TIME_LIMITS: frozenset[str] = frozenset({"solo"})


class TopologyError(ValueError):
    """The declaration is inconsistent; the message names the entry at fault."""


@dataclass(frozen=True)
class QueueSpec:
    """A work queue. Its dead-letter queue is derived: `<name>.dlq`.

    Parameters:
        max_priority: enables priorities 0..N (classic queues only on RabbitMQ 3.10).
        delivery_limit: redeliveries before a message is dead-lettered (quorum queues),
            which bounds a task that kills its worker.
        max_length / message_ttl_ms: optional limits; overflow is rejected at publish.
        max_message_bytes: the largest task body a producer may publish to it; checked
            before publishing (`routing.publish_checks`), below the broker's own limit.
    """

    name: str
    type: QueueType = "quorum"
    max_priority: int | None = None
    delivery_limit: int | None = DEFAULT_DELIVERY_LIMIT
    max_length: int | None = None
    message_ttl_ms: int | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in " #*"):
            raise TopologyError(f"queue {self.name!r}: a name without spaces, '#' or '*'")
        for suffix in (DLQ_SUFFIX, PARKED_SUFFIX):
            if self.name.endswith(suffix):
                raise TopologyError(
                    f"queue {self.name!r}: '{suffix}' names are derived, not declared"
                )
        if self.max_priority is not None:
            if not 1 <= self.max_priority <= MAX_PRIORITY_LIMIT:
                raise TopologyError(
                    f"queue {self.name!r}: max_priority {self.max_priority} outside 1-255"
                )
            if self.type == "quorum":
                raise TopologyError(
                    f"queue {self.name!r}: priorities need a classic queue on RabbitMQ 3.10"
                )
        if self.type == "classic" and self.delivery_limit is not None:
            object.__setattr__(self, "delivery_limit", None)
        for attr in ("delivery_limit", "max_length", "message_ttl_ms"):
            value = getattr(self, attr)
            if value is not None and value <= 0:
                raise TopologyError(f"queue {self.name!r}: {attr} must be positive, not {value}")
        if not 0 < self.max_message_bytes < BROKER_MAX_MESSAGE_BYTES:
            raise TopologyError(
                f"queue {self.name!r}: max_message_bytes {self.max_message_bytes} must be "
                f"positive and below the broker's max_message_size {BROKER_MAX_MESSAGE_BYTES}"
            )


@dataclass(frozen=True)
class Route:
    """Tasks whose name matches `pattern` go to `queue`.

    The pattern is a task name (`tasks.media.transcode`) or every task of a module
    (`tasks.media.*`); either way it names the module the worker imports, so adding a
    route is all it takes for a worker to register the module's tasks.
    """

    pattern: str
    queue: str
    priority: int | None = None

    def __post_init__(self) -> None:
        module, _, function = self.pattern.rpartition(".")
        if not module or not function or any(c in module for c in _GLOB_CHARS):
            raise TopologyError(
                f"route {self.pattern!r}: a task name ('package.module.task') or a module's "
                "tasks ('package.module.*'); the module part names what the worker imports"
            )

    @property
    def module(self) -> str:
        """The module whose tasks this route covers, which the worker imports."""
        return self.pattern.rpartition(".")[0]

    def matches(self, task_name: str) -> bool:
        return fnmatch.fnmatchcase(task_name, self.pattern)


@dataclass(frozen=True)
class PoolSpec:
    """A worker pool: one Deployment on Kubernetes, `replicas` worker groups locally.

    Parameters:
        queues: what it consumes. prefetch_multiplier: 1 wherever priority matters.
        kind: Celery's `prefork` pool; `threads` (`execution.thread_pool`: Celery's
            threads pool plus a watchdog that enforces time limits); or `inline`
            (`execution.inline_pool`): tasks run in the worker process itself, under a
            guard that keeps heartbeats and time limits. Inline is the fastest for short
            tasks, but runs one task per process and a task that crashes takes the
            process with it; it scales by replicas. `solo` is refused: it cannot enforce
            time limits.
        soft_time_limit_s / time_limit_s: per task; the hard limit must stay below the
            broker's consumer_timeout or the broker closes the channel mid-task.
        replicas: the default Deployment size; min/max_replicas bound autoscaling.
        log_level: the worker's. At INFO Celery logs two lines for every task (received,
            succeeded), which costs a no-op task about a quarter of its worker CPU; at
            WARNING those lines, retries and expected failures are not logged (the task
            metrics still count them) and unexpected failures are.
        track_started: whether its workers write a task's STARTED state before running it
            (Celery's `task_track_started`, for tasks whose result is stored). It is one
            more database write per task, committed without waiting for the disk, which
            a pool of millisecond tasks pays for a state that lasts milliseconds; off, a
            task goes from PENDING to its outcome.
        sends_to: other pools' queues this pool's tasks publish to (a chain or callback that
            crosses pools); its broker user may publish only to its own queues and these.
        egress: what its tasks call besides the broker and the database (`routing.egress`);
            the chart's NetworkPolicy opens exactly these for the pool's pods.
    """

    name: str
    queues: tuple[str, ...]
    kind: PoolKind = "prefork"
    concurrency: int = 2
    prefetch_multiplier: int = 1
    soft_time_limit_s: int = 240
    time_limit_s: int = 300
    max_tasks_per_child: int | None = 1000
    replicas: int = 1
    min_replicas: int = 1
    max_replicas: int = 4
    description: str = ""
    log_level: LogLevel = "INFO"
    track_started: bool = True
    sends_to: tuple[str, ...] = ()
    egress: tuple[Egress, ...] = ()

    def __post_init__(self) -> None:
        where = f"pool {self.name!r}"
        if not self.name.replace("-", "").isalnum() or self.name != self.name.lower():
            raise TopologyError(f"{where}: lowercase letters, digits and '-' only")
        if not self.queues:
            raise TopologyError(f"{where}: consumes no queue")
        if self.concurrency < 1 or self.prefetch_multiplier < 1:
            raise TopologyError(f"{where}: concurrency and prefetch_multiplier must be >= 1")
        if self.tasks_hold_consumer and self.concurrency != 1:
            raise TopologyError(
                f"{where}: a {self.kind} pool runs one task per process; "
                "set concurrency=1 and scale it with replicas"
            )
        if not 0 < self.soft_time_limit_s < self.time_limit_s:
            raise TopologyError(f"{where}: need 0 < soft_time_limit_s < time_limit_s")
        if self.kind in KINDS_WITHOUT_TIME_LIMITS:
            raise TopologyError(
                f"{where}: a {self.kind} pool cannot enforce its time limits "
                f"({self.soft_time_limit_s}s/{self.time_limit_s}s); use kind='inline', "
                "which runs tasks the same way under a guard that enforces them"
            )
        if not 0 <= self.min_replicas <= self.replicas <= self.max_replicas:
            raise TopologyError(f"{where}: need min_replicas <= replicas <= max_replicas")
        _unique(f"{where}: egress", [e.name for e in self.egress])

    @property
    def tasks_hold_consumer(self) -> bool:
        """Solo and inline run a task in the consumer's own thread, one at a time: a task
        holds it (and the health files it refreshes) for up to the hard time limit."""
        return self.kind in ("solo", "inline")


@dataclass(frozen=True)
class Topology:
    """The whole declaration; constructing one runs every cross-entry check."""

    queues: tuple[QueueSpec, ...]
    routes: tuple[Route, ...]
    pools: tuple[PoolSpec, ...]
    default_queue: str
    consumer_timeout_s: int = field(default=1800)

    def __post_init__(self) -> None:
        _unique("queue", [q.name for q in self.queues])
        _unique("pool", [p.name for p in self.pools])
        names = {q.name for q in self.queues}
        if self.default_queue not in names:
            raise TopologyError(f"default_queue {self.default_queue!r} is not a declared queue")
        for route in self.routes:
            if route.queue not in names:
                raise TopologyError(f"route {route.pattern!r}: unknown queue {route.queue!r}")
            queue = self.queue(route.queue)
            if route.priority is not None:
                top = queue.max_priority or 0
                if not 0 <= route.priority <= top:
                    raise TopologyError(
                        f"route {route.pattern!r}: priority {route.priority} outside 0-{top} "
                        f"of queue {queue.name!r}"
                    )
        consumed: dict[str, str] = {}
        for pool in self.pools:
            for qname in pool.queues:
                if qname not in names:
                    raise TopologyError(f"pool {pool.name!r}: unknown queue {qname!r}")
                if qname in consumed:
                    raise TopologyError(
                        f"queue {qname!r} is consumed by pools {consumed[qname]!r} and "
                        f"{pool.name!r}; one pool per queue scales it alone"
                    )
                consumed[qname] = pool.name
            for qname in pool.sends_to:
                if qname not in names:
                    raise TopologyError(f"pool {pool.name!r}: sends_to unknown queue {qname!r}")
        for qname in sorted(names - consumed.keys()):
            raise TopologyError(f"queue {qname!r} has no pool consuming it")
        self.check_time_limits(self.consumer_timeout_s)

    def check_time_limits(self, consumer_timeout_s: int) -> None:
        """Refuse a pool whose hard time limit reaches the broker's consumer timeout.

        Raises:
            TopologyError: naming the pool; the broker would close its channel mid-task.
        """
        for pool in self.pools:
            if pool.time_limit_s >= consumer_timeout_s:
                raise TopologyError(
                    f"pool {pool.name!r}: time_limit_s {pool.time_limit_s} reaches the broker's "
                    f"consumer_timeout ({consumer_timeout_s}s); the broker would close the "
                    "channel mid-task"
                )

    @property
    def task_modules(self) -> tuple[str, ...]:
        """The modules a worker imports, each once, in route order: the declaration's
        routes name them, so no second list can leave a routed task unregistered."""
        return tuple(dict.fromkeys(route.module for route in self.routes))

    def queue(self, name: str) -> QueueSpec:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise TopologyError(f"unknown queue {name!r}")

    def pool(self, name: str) -> PoolSpec:
        for pool in self.pools:
            if pool.name == name:
                return pool
        known = ", ".join(p.name for p in self.pools)
        raise TopologyError(f"unknown pool {name!r} (declared: {known})")

    def route_for(self, task_name: str) -> Route | None:
        """The first route whose pattern matches; exact names are listed before globs."""
        for route in self.routes:
            if route.matches(task_name):
                return route
        return None

    def pool_of_queue(self, queue: str) -> PoolSpec:
        for pool in self.pools:
            if queue in pool.queues:
                return pool
        raise TopologyError(f"queue {queue!r} has no pool consuming it")


def _unique(kind: str, names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TopologyError(f"{kind} {name!r} is declared twice")
        seen.add(name)
