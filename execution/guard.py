"""What a task running in the worker's own thread would otherwise cost the worker.

A task run inline (`execution.inline_pool`) holds the thread that reads and writes the
broker connection, for as long as it runs. Without help, three things stop while it runs:

- heartbeats: the broker closes a connection that has sent nothing for two heartbeats;
- noticing a dead connection: a task that outlives its connection keeps running while the
  broker hands its message to another worker, and the two runs overlap;
- time limits: nothing interrupts a task past its soft or hard limit.

`TaskGuard` is one thread that does these three while a task runs, and sleeps otherwise.
It writes heartbeat frames on the connection, which the worker's thread writes on too:
`execution.write_lock` makes both take one lock for every frame, so their bytes never
interleave on the socket (the worker's thread, besides, writes nothing on that connection
until the task has returned and `running` has taken the guard's lock on the way out).
It interrupts the task the way billiard interrupts a prefork child, by a signal whose
handler raises in the worker's thread. A task that does not return within `grace_s` of its
hard limit (stuck in C code, or swallowing the exception) ends the process: its message,
unacknowledged, goes back to the queue, and the quorum queue's delivery limit bounds how
often that can happen.
"""

from __future__ import annotations

import array
import fcntl
import logging
import os
import signal
import socket
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from execution.write_lock import LockedFrameWriter, serialize_writes

logger = logging.getLogger(__name__)

INTERRUPT_SIGNAL = signal.SIGUSR2
TICK_S = 0.25
WEDGED_GRACE_S = 10.0
EXIT_WEDGED = 70  # EX_SOFTWARE


class ConnectionLostDuringTask(BaseException):
    """The broker connection died while the task ran; the broker will deliver the message
    again, so this run stops (a BaseException: the worker treats it as a lost worker and
    the task's own `except Exception` does not swallow it)."""


class AmqpConnection(Protocol):
    """What the guard uses of a py-amqp connection."""

    heartbeat: float | None
    last_heartbeat_received: float

    def send_heartbeat(self) -> None: ...


@dataclass
class _Job:
    name: str
    soft_at: float | None
    hard_at: float | None
    last_beat: float
    last_alive: float
    pending_bytes: int
    hard_limit_s: float | None = None
    soft_sent: bool = False
    hard_sent: bool = False


def _exit_wedged() -> None:
    logging.shutdown()
    os._exit(EXIT_WEDGED)


def _pending_bytes(sock: socket.socket) -> int:
    """Bytes the broker sent that nobody has read yet."""
    buffer = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, buffer)
    return int(buffer[0])


class TaskGuard:
    """Heartbeats, dead-connection detection and time limits for inline tasks."""

    def __init__(
        self,
        tick_s: float = TICK_S,
        grace_s: float = WEDGED_GRACE_S,
        on_wedged: Callable[[], None] = _exit_wedged,
    ) -> None:
        self._tick_s = tick_s
        self._grace_s = grace_s
        self._on_wedged = on_wedged
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._job: _Job | None = None
        self._pending: BaseException | None = None
        self._connection: AmqpConnection | None = None
        self._socket: socket.socket | None = None
        self._writes: LockedFrameWriter | None = None
        self._thread: threading.Thread | None = None
        self._main_thread = threading.main_thread().ident

    def start(self) -> None:
        """Install the interrupt handler (in the main thread) and start the guard thread."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the task guard must be started from the main thread")
        signal.signal(INTERRUPT_SIGNAL, self._raise_pending)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="task-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def watch(self, connection: AmqpConnection | None, sock: socket.socket | None) -> None:
        """The broker connection to keep alive while a task runs (None: none).

        From here on, every frame written on it takes its write lock (`write_lock`)."""
        writes = serialize_writes(connection) if connection is not None else None
        with self._lock:
            self._connection = connection
            self._socket = sock
            self._writes = writes

    @contextmanager
    def running(
        self, name: str, soft_limit_s: float | None, hard_limit_s: float | None
    ) -> Iterator[None]:
        """Guard the task run inside this block."""
        self.begin(name, soft_limit_s, hard_limit_s)
        try:
            yield
        finally:
            self.end()

    def begin(self, name: str, soft_limit_s: float | None, hard_limit_s: float | None) -> None:
        """Guard the task that runs from now until `end` (what `running` does, without a
        context manager's cost on the inline pool's path of every task)."""
        now = time.monotonic()
        job = _Job(
            name=name,
            soft_at=now + soft_limit_s if soft_limit_s else None,
            hard_at=now + hard_limit_s if hard_limit_s else None,
            last_beat=now,
            last_alive=now,
            pending_bytes=-1,
            hard_limit_s=hard_limit_s,
        )
        with self._lock:
            self._job = job

    def end(self) -> None:
        """The guarded task has returned or raised."""
        try:
            self._job = None
        except BaseException:  # an interrupt landing just as the task returned: moot now
            self._job = None
        with self._lock:  # a check in progress (a heartbeat being written) finishes first
            self._pending = None

    def _raise_pending(self, signum: int, frame: FrameType | None) -> None:
        """The interrupt handler: raise what the guard decided, in the task's thread.

        It takes no lock: it may run while this thread holds one."""
        pending, self._pending = self._pending, None
        if pending is not None and self._job is not None:
            raise pending

    def _interrupt(self, exc: BaseException) -> None:
        self._pending = exc
        signal.pthread_kill(self._main_thread or 0, INTERRUPT_SIGNAL)

    def _run(self) -> None:
        while not self._stopped.wait(self._tick_s):
            with self._lock:
                job = self._job
                if job is not None:
                    try:
                        self._check(job, time.monotonic())
                    except Exception:  # the guard must outlive anything it runs into
                        logger.exception("task guard check failed")

    def _check(self, job: _Job, now: float) -> None:
        """One look at the running task; called with the lock held."""
        self._keep_connection(job, now)
        if job.hard_sent and job.hard_at is not None and now >= job.hard_at + self._grace_s:
            logger.critical(
                "task %s ignored its hard time limit for %.0f s; exiting so that its "
                "message goes back to the queue",
                job.name,
                self._grace_s,
            )
            sys.stderr.flush()
            self._on_wedged()
        elif job.hard_at is not None and now >= job.hard_at and not job.hard_sent:
            job.hard_sent = True
            logger.error("hard time limit exceeded for %s", job.name)
            self._interrupt(TimeLimitExceeded(job.hard_limit_s))  # the limit, as prefork says
        elif job.soft_at is not None and now >= job.soft_at and not job.soft_sent:
            job.soft_sent = True
            logger.warning("soft time limit exceeded for %s", job.name)
            self._interrupt(SoftTimeLimitExceeded())

    def _keep_connection(self, job: _Job, now: float) -> None:
        """Send heartbeats; notice the broker going silent. Called with the lock held."""
        connection, sock, writes = self._connection, self._socket, self._writes
        if connection is None or sock is None or writes is None or not connection.heartbeat:
            return
        interval = float(connection.heartbeat)
        if now - job.last_beat >= interval / 2:
            with writes.attempt() as free:
                # Held by the worker's thread: its frame keeps the connection alive; the
                # heartbeat waits for the next tick rather than the guard for the lock.
                if free:
                    try:
                        connection.send_heartbeat()
                    except OSError:
                        self._lost(job, "writing a heartbeat failed")
                        return
                    job.last_beat = now
        try:
            pending = _pending_bytes(sock)
        except OSError:
            self._lost(job, "the socket is closed")
            return
        if pending != job.pending_bytes:
            # The broker sent something (a heartbeat at least): it is alive. Tell the
            # connection too, or its own check would fail right after the task.
            job.pending_bytes = pending
            job.last_alive = now
            connection.last_heartbeat_received = now
        elif now - job.last_alive > 2 * interval:
            self._lost(job, f"nothing from the broker for {now - job.last_alive:.0f} s")

    def _lost(self, job: _Job, why: str) -> None:
        if isinstance(self._pending, ConnectionLostDuringTask):
            return
        logger.error("broker connection lost while %s ran (%s); stopping it", job.name, why)
        self._connection = self._socket = self._writes = None
        self._interrupt(ConnectionLostDuringTask(why))


def connection_parts(connection: Any) -> tuple[AmqpConnection | None, socket.socket | None]:
    """The py-amqp connection and its socket under a kombu connection, if it has them."""
    amqp_connection = getattr(connection, "connection", None)
    transport = getattr(amqp_connection, "transport", None)
    sock = getattr(transport, "sock", None)
    if amqp_connection is None or not isinstance(sock, socket.socket):
        return None, None
    return amqp_connection, sock
