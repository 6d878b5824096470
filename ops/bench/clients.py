"""Each peer's client as the benchmark drives it: send no-ops, mark the end, purge.

A Celery peer (stock or Switchyard) sends through its own app and `send_many`; Dramatiq's
client is in `ops.bench.dramatiq_peer`. The end of a run is marked by one last task that
creates a file: the same signal for every peer, whatever its result backend.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from celery import Celery, Signature
from celery.result import AsyncResult

from execution.fast_send import install_fast_send
from ops.bench.model import Configuration
from ops.bench.tasks import mark, noop
from producer.bulk import enqueue_many
from producer.fast_apply import install


def apply_in_loop(app: Celery, signatures: list[Signature[Any]]) -> list[AsyncResult[Any]]:
    """How stock Celery code sends many tasks."""
    return [signature.apply_async() for signature in signatures]


def bulk(app: Celery, signatures: list[Signature[Any]]) -> list[AsyncResult[Any]]:
    return enqueue_many(signatures, app)


def noops(app: Celery, count: int, ignore_result: bool = False) -> list[Signature[Any]]:
    base = app.signature(noop.name, immutable=True)
    if ignore_result:
        base = base.set(ignore_result=True)  # type: ignore[call-arg]  # an apply_async option
    return [base.clone() for _ in range(count)]


def probe_queue_name(app: Celery) -> str:
    """The queue this app routes the no-op probe to (`celery` for stock, `default` here)."""
    return str(app.amqp.router.route({}, noop.name)["queue"].name)


class CeleryClient:
    """A Celery peer: its app, and the way its producer sends a batch."""

    def __init__(
        self,
        app: Celery,
        configuration: Configuration,
        start_workers: Callable[[bool], AbstractContextManager[list[int]]],
    ) -> None:
        self.app = app
        self.configuration = configuration
        self.start_workers = start_workers
        self.queue = probe_queue_name(app)
        self.fast = install(app) if configuration.fast_apply else None

    def send_noops(self, count: int, store_results: bool) -> list[Any]:
        send = self.configuration.send_many or apply_in_loop
        return send(self.app, noops(self.app, count, ignore_result=not store_results))

    def send_marker(self, path: str) -> None:
        self.app.signature(mark.name, args=(path,)).apply_async(ignore_result=True)

    def purge(self) -> None:
        with self.app.connection_for_write() as conn:
            channel: Any = conn.default_channel  # the stubs know no queue_purge
            channel.queue_purge(self.queue)

    def close(self) -> None:
        if self.fast is not None:
            install_fast_send(self.app, None)
            self.fast.close()
        self.app.close()


def celery_app(client: object) -> Celery:
    """The app of a Celery peer, for the workloads only Celery peers run."""
    if not isinstance(client, CeleryClient):
        raise TypeError(f"a Celery workload got {type(client).__name__}")
    return client.app
