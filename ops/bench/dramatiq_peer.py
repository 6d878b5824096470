"""Dramatiq, the peer a team choosing a task queue for RabbitMQ also looks at.

This module is both the Dramatiq app its workers load (`dramatiq ops.bench.dramatiq_peer`)
and the client the benchmark sends with. It runs on the stack's broker, in the same vhost,
on its own queue; Dramatiq declares it as a classic queue (with its `.DQ` delay and `.XQ`
dead-letter queues) unless `QUEUE_TYPE_ENV` asks for a quorum queue, which shows the queue
type's share of a difference. Everything else is Dramatiq's default: `actor.send()` in a
loop without publisher confirms, acks after the actor returns, the default middleware.

The broker is built at import because Dramatiq binds actors to it when they are declared.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from config.settings import get_settings

QUEUE_TYPE_ENV = "SWITCHYARD_BENCH_DRAMATIQ_QUEUE_TYPE"
# Dramatiq reads its queue prefetch per worker process from this variable (default 2 x threads).
PREFETCH_ENV = "dramatiq_queue_prefetch"
QUEUES = {"classic": "bench_dramatiq", "quorum": "bench_dramatiq_quorum"}


def queue_type() -> str:
    kind = os.environ.get(QUEUE_TYPE_ENV, "classic")
    if kind not in QUEUES:
        raise ValueError(f"{QUEUE_TYPE_ENV}={kind!r}: must be one of {', '.join(QUEUES)}")
    return kind


class _QuorumBroker(RabbitmqBroker):
    """Dramatiq's broker with its queues declared as quorum queues (the same arguments
    otherwise), through the one method Dramatiq builds queue arguments in."""

    def _build_queue_arguments(self, queue_name: str) -> dict[str, Any]:
        arguments: dict[str, Any] = super()._build_queue_arguments(queue_name)  # type: ignore[no-untyped-call]
        return {**arguments, "x-queue-type": "quorum"}


def make_broker(kind: str) -> RabbitmqBroker:
    """A broker on the stack's RabbitMQ whose queues are of type `kind`."""
    return (_QuorumBroker if kind == "quorum" else RabbitmqBroker)(url=get_settings().broker_url)


def _noop() -> None:
    """Nothing, as `ops.bench.tasks.noop`."""


def _mark(path: str) -> None:
    """The last message of a run, as `ops.bench.tasks.mark`."""
    Path(path).touch()


def actors(
    broker: RabbitmqBroker, kind: str
) -> tuple[dramatiq.Actor[[], None], dramatiq.Actor[[str], None]]:
    """The two actors, bound to `broker` and the queue of `kind`."""
    queue = QUEUES[kind]
    return (
        dramatiq.actor(actor_name="noop", queue_name=queue, broker=broker)(_noop),
        dramatiq.actor(actor_name="mark", queue_name=queue, broker=broker)(_mark),
    )


# What the worker processes load: the broker and actors of the queue type they were given.
broker = make_broker(queue_type())
dramatiq.set_broker(broker)
noop, mark = actors(broker, queue_type())


class DramatiqClient:
    """Sends as a Dramatiq user does: `actor.send()` in a loop, on its own broker."""

    def __init__(
        self, start_workers: Callable[[bool], AbstractContextManager[list[int]]], kind: str
    ):
        self.queue = QUEUES[kind]
        self.start_workers = start_workers
        self.broker = make_broker(kind)
        self.noop, self.mark = actors(self.broker, kind)

    def send_noops(self, count: int, store_results: bool) -> list[Any]:
        if store_results:
            raise ValueError("the Dramatiq peer has no result backend on this stack")
        return [self.noop.send() for _ in range(count)]

    def send_marker(self, path: str) -> None:
        self.mark.send(path)

    def purge(self) -> None:
        self.broker.flush(self.queue)

    def close(self) -> None:
        self.broker.close()


def declare(kind: str) -> None:
    """The queues of `kind`, declared by Dramatiq itself before its workers start."""
    declaring = make_broker(kind)
    try:
        declaring.declare_queue(QUEUES[kind], ensure=True)
    finally:
        declaring.close()


def worker_argv(processes: int | None = None, threads: int | None = None) -> tuple[str, ...]:
    """The `dramatiq` command line; without arguments, what a new user types."""
    argv = [sys.executable, "-m", "dramatiq", __name__]
    if processes is not None:
        argv += ["--processes", str(processes)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return tuple(argv)


def default_processes() -> int:
    """The `dramatiq` CLI's default process count: one per CPU."""
    return os.cpu_count() or 1
