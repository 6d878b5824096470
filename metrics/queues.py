"""The queues the exporter watches, derived from the declaration: nothing is typed twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from routing import names
from routing.model import Topology

QueueKind = Literal["work", "dead_letter", "parked", "unroutable"]


@dataclass(frozen=True)
class WatchedQueue:
    """A declared queue; `work_queue` names the queue a dead-letter queue belongs to."""

    name: str
    kind: QueueKind
    work_queue: str = ""


def watched_queues(topology: Topology) -> tuple[WatchedQueue, ...]:
    """Every work queue, the dead-letter and parked queues of each, and the unroutable queue."""
    work = [WatchedQueue(q.name, "work") for q in topology.queues]
    dead = [WatchedQueue(names.dlq_name(q.name), "dead_letter", q.name) for q in topology.queues]
    parked = [WatchedQueue(names.parked_name(q.name), "parked", q.name) for q in topology.queues]
    return (*work, *dead, *parked, WatchedQueue(names.UNROUTABLE_QUEUE, "unroutable"))
