"""A Celery pool that runs each task in the worker process itself, under a guard.

Celery's prefork pool pickles every request to a child process and the outcome back; on a
short task that traffic is most of the worker's CPU, and the one process that does it for
every child caps a pool at what that process can push. Celery's solo pool runs the task
inline, with none of that, but sends no heartbeats and enforces no time limits while a task
runs. This pool is the solo pool plus `execution.guard.TaskGuard`, which keeps both.

One process runs one task at a time: a pool of this kind scales by processes (replicas),
and a task that crashes the process (SIGKILL, out of memory) takes the process with it;
its message goes back to the queue, whose delivery limit bounds the redeliveries.

A pool of kind `inline` selects it with `--pool custom` and `CELERY_CUSTOM_WORKER_POOL`
(`routing.worker_command` writes both); the consumer step `WatchConnection` hands the
guard each new broker connection.
"""

from __future__ import annotations

import os
import time
from typing import Any

from billiard.einfo import ExceptionInfo
from billiard.exceptions import WorkerLostError
from celery import bootsteps, signals
from celery.concurrency.base import BasePool, apply_target
from celery.exceptions import WorkerShutdown, WorkerTerminate

from compat import CONSUMER_CONNECTION_STEP
from deadletter import headers
from execution.ack_batch import ACK_BATCH_KEY, AckBatch
from execution.guard import WEDGED_GRACE_S, TaskGuard, connection_parts
from execution.isolated import run_in_child


class InlinePool(BasePool):
    """Celery's solo pool, with heartbeats, dead-connection detection and time limits."""

    body_can_be_buffer = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = 1
        self.guard = TaskGuard()
        # As the solo pool: the worker passes (app, hostname) as every pool's initargs.
        initargs = self.options.get("initargs") or (None, None)
        self.acks = _ack_batch(initargs[0])
        signals.worker_process_init.send(sender=initargs[1])

    def on_start(self) -> None:
        self.guard.start()

    def on_stop(self) -> None:
        self.guard.stop()

    def register_with_event_loop(self, loop: Any) -> None:
        """Held acks are written by the event loop's timer while the worker is idle."""
        if self.acks is not None and self.acks.max_delay_s > 0:
            loop.call_repeatedly(self.acks.max_delay_s, self.acks.flush_due)

    def on_terminate(self) -> None:
        self.guard.stop()

    def watch_connection(self, connection: Any) -> None:
        """The consumer's (kombu) connection, or None when it is gone."""
        self.guard.watch(*connection_parts(connection))

    def on_apply(
        self,
        target: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Any = None,
        accept_callback: Any = None,
        **options: Any,
    ) -> None:
        """`apply_target`, with only the task itself under the guard: the callbacks that
        follow write the ack on the connection, which the guard must have let go of."""
        args = args or ()
        name = f"{args[0]}[{args[1]}]" if len(args) > 1 else repr(target)
        soft = options.pop("soft_timeout", None) or self.options.get("soft_timeout")
        hard = options.pop("timeout", None) or self.options.get("timeout")
        if self.acks is not None:
            self.acks.flush_due()
        if _is_suspect(args):
            self._apply_isolated(
                target,
                args,
                kwargs or {},
                callback=callback,
                error_callback=options.get("error_callback"),
                accept_callback=accept_callback,
                name=name,
                soft=soft,
                hard=hard,
            )
            return

        guard = self.guard

        def guarded(*a: Any, **kw: Any) -> Any:
            guard.begin(name, soft, hard)
            try:
                return target(*a, **kw)
            finally:
                guard.end()

        apply_target(guarded, args, kwargs, callback, accept_callback, **options)

    def _apply_isolated(
        self,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        callback: Any,
        error_callback: Any,
        accept_callback: Any,
        name: str,
        soft: float | None,
        hard: float | None,
    ) -> None:
        """A suspect message's task in a forked child; its loss reported as prefork's is,
        to the request's error callback."""
        if accept_callback:
            accept_callback(os.getpid(), time.monotonic())
        try:
            # The parent waits: its guard keeps the heartbeats, the child's the limits. A
            # child whose guard cannot act (C code holding the GIL) is ended here, later.
            backstop = hard + 2 * WEDGED_GRACE_S if hard else None
            with self.guard.running(name, None, backstop):
                outcome = run_in_child(
                    target, args, kwargs, name=name, soft_limit_s=soft, hard_limit_s=hard
                )
        except WorkerLostError:
            error_callback(ExceptionInfo())
            return
        except (WorkerShutdown, WorkerTerminate):
            raise
        except BaseException as exc:  # interrupted while waiting: the run is lost too
            try:
                raise WorkerLostError(repr(exc)) from exc
            except WorkerLostError:
                error_callback(ExceptionInfo())
            return
        callback(outcome)

    def _get_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super()._get_info()  # type: ignore[misc]
        info.update(
            {
                "max-concurrency": 1,
                "processes": [os.getpid()],
                "put-guarded-by-semaphore": True,
                "timeouts": (self.options.get("soft_timeout"), self.options.get("timeout")),
            }
        )
        return info


def _ack_batch(app: Any) -> AckBatch | None:
    """The pool's ack batch as the app's configuration asks (none when it says 1)."""
    size, delay_ms = (getattr(app, "conf", None) or {}).get(ACK_BATCH_KEY) or (1, 0.0)
    return AckBatch(int(size), float(delay_ms) / 1000) if int(size) > 1 else None


def _is_suspect(args: tuple[Any, ...]) -> bool:
    """Delivered again, or requeued after a lost worker: maybe what killed the last one."""
    request = args[2] if len(args) > 2 and isinstance(args[2], dict) else {}
    delivery = request.get("delivery_info") or {}
    return bool(delivery.get("redelivered") or request.get(headers.WORKER_LOSSES))


class WatchConnection(bootsteps.StartStopStep):
    """Tells an inline pool which broker connection its guard keeps alive, and has it write
    the acks it holds back before that connection closes."""

    requires = (CONSUMER_CONNECTION_STEP,)

    def start(self, c: Any) -> None:
        _watch(c, c.connection)

    def stop(self, c: Any) -> None:
        _watch(c, None)

    shutdown = stop


def _watch(c: Any, connection: Any) -> None:
    if isinstance(c.pool, InlinePool):
        if connection is None and c.pool.acks is not None:
            c.pool.acks.flush()  # before the connection closes: the acks it still owes
        c.pool.watch_connection(connection)
