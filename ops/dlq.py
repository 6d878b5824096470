"""Dead-letter queues for operators: list, inspect, replay and purge.

A message is read with `basic_get` and acknowledged only after what should happen to it
has happened: `show` returns every message to its queue; `replay` acknowledges a message
only once its republished copy is confirmed by the broker.

Replay works on a snapshot: it reads at most as many messages as the queue held when it
started, and stops at the first copy it republished itself. Reading until the queue is
empty would replay again every message that fails again while the replay runs (200
dead letters became 296 runs). Each copy carries its death history
(`deadletter.history`); one replayed `max_replays` times already is parked in
`<queue>.parked` with the reason instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pika

from deadletter import headers
from deadletter.history import carried_headers, history
from routing import names
from routing.declaration import TOPOLOGY

REPLAYED = headers.REPLAYED


@dataclass(frozen=True)
class DeadLetter:
    task: str
    task_id: str
    reason: str
    source_queue: str
    deaths: int
    size: int
    replays: int = 0


@dataclass
class ReplayReport:
    """What a replay did, or with `dry_run` would do, to the snapshot it took."""

    queue: str
    snapshot: int
    dry_run: bool
    replayed: dict[str, int] = field(default_factory=dict)
    parked: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    @property
    def replayed_total(self) -> int:
        return sum(self.replayed.values())

    @property
    def parked_total(self) -> int:
        return sum(self.parked.values())

    def lines(self) -> list[str]:
        verb = ("would replay", "would park") if self.dry_run else ("replayed", "parked")
        out = [f"snapshot of {self.queue}: {self.snapshot} message(s)"]
        out += [f"{verb[0]} {n} to {q}" for q, n in sorted(self.replayed.items())]
        out += [
            f"{verb[1]} {n} in {names.parked_name(q)} (replayed too often)"
            for q, n in sorted(self.parked.items())
        ]
        if self.skipped:
            out.append(f"left {self.skipped} whose source queue is not declared")
        return out


def dead_letter_queues() -> list[str]:
    return [names.dlq_name(q.name) for q in TOPOLOGY.queues] + [names.UNROUTABLE_QUEUE]


def parked_queues() -> list[str]:
    return [names.parked_name(q.name) for q in TOPOLOGY.queues]


def check_queue(queue: str) -> None:
    known = dead_letter_queues() + parked_queues()
    if queue not in known:
        raise ValueError(f"{queue!r} is not a dead-letter queue; one of: {', '.join(known)}")


@contextmanager
def channel(broker_url: str) -> Iterator[Any]:
    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        yield ch
    finally:
        if conn.is_open:
            conn.close()


def depth(ch: Any, queue: str) -> int:
    """Messages ready in `queue` (a passive declare)."""
    return int(ch.queue_declare(queue, passive=True).method.message_count)


def depths(ch: Any) -> dict[str, int]:
    return {q: depth(ch, q) for q in dead_letter_queues() + parked_queues()}


def describe(props: Any, body: bytes, queue: str) -> DeadLetter:
    hdrs = props.headers or {}
    past = history(hdrs, queue)
    return DeadLetter(
        task=str(hdrs.get("task") or "?"),
        task_id=str(hdrs.get("id") or "?"),
        reason=past.reason,
        source_queue=past.source_queue,
        deaths=past.deaths,
        size=len(body),
        replays=past.replays,
    )


def show(ch: Any, queue: str, limit: int) -> list[DeadLetter]:
    """Up to `limit` messages from the head of `queue`; all are returned to it."""
    found = []
    for _ in range(limit):
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        found.append(describe(props, body, queue))
    ch.basic_recover(requeue=True)
    return found


def replay(
    ch: Any,
    queue: str,
    limit: int | None = None,
    *,
    max_replays: int,
    dry_run: bool = False,
) -> ReplayReport:
    """Republish the messages `queue` holds now to the queues they came from, once each.

    A message replayed `max_replays` times already goes to its work queue's parked queue
    with `headers.PARKED_REASON`; one whose source queue is not declared (unroutable)
    stays where it is. With `dry_run` every message read is returned untouched.
    """
    run = uuid.uuid4().hex
    report = ReplayReport(queue, depth(ch, queue), dry_run)
    budget = report.snapshot if limit is None else min(limit, report.snapshot)
    declared = {q.name for q in TOPOLOGY.queues}
    held: list[int] = []
    for _ in range(budget):
        method, props, body = ch.basic_get(queue, auto_ack=False)
        if method is None:
            break
        hdrs = props.headers or {}
        if hdrs.get(headers.REPLAY_RUN) == run:  # back already: past the snapshot
            held.append(method.delivery_tag)
            break
        past = history(hdrs, queue)
        target = past.source_queue
        if target not in declared:
            report.skipped += 1
            held.append(method.delivery_tag)
            continue
        park = past.replays >= max_replays
        tally = report.parked if park else report.replayed
        tally[target] = tally.get(target, 0) + 1
        if dry_run:
            held.append(method.delivery_tag)
            continue
        props.headers = carried_headers(hdrs, past)
        if park:
            props.headers[headers.PARKED_REASON] = (
                f"replayed {past.replays} time(s), the limit; "
                f"died {past.deaths} time(s), last: {past.reason}"
            )
            exchange, key = names.DEAD_LETTER_EXCHANGE, names.parked_name(target)
        else:
            props.headers[headers.REPLAYED] = past.replays + 1
            props.headers[headers.REPLAY_RUN] = run
            exchange, key = names.TASK_EXCHANGE, target
        # confirm_delivery makes this raise unless the broker confirmed the copy.
        ch.basic_publish(exchange, key, body, props, mandatory=True)
        ch.basic_ack(method.delivery_tag)
    for tag in held:
        ch.basic_nack(tag, requeue=True)
    return report


def purge(ch: Any, queue: str) -> int:
    return int(ch.queue_purge(queue).method.message_count)
