"""One lock around every frame written on a broker connection shared by two threads.

An inline worker's consumer connection has two writers. The worker's own thread writes the
ack or reject of each message (Celery's `Request.acknowledge`, `deadletter.request`),
basic.qos and basic.consume, and its own heartbeats between tasks (`heartbeat_tick`, from
the event loop). The task guard's thread writes heartbeats while a task holds the worker's
thread (`TaskGuard._keep_connection`). Retries, dead-letter copies and chord bodies go out
through the app's producer pool, on other connections; results go to PostgreSQL.

Two frames written at once on one socket interleave their bytes, and the broker closes the
connection on the first frame it cannot parse. The guard is meant to write only while the
worker's thread is inside a task, which does not write on that connection; this lock makes
it so even when that does not hold.

py-amqp writes every frame of a connection through one function (`Connection.frame_writer`,
listed in `compat`); `serialize_writes` wraps it once per connection with a lock that
every writer takes. The worker's thread waits for it, as for any write. The guard does not:
`attempt` takes the lock only if it is free, and a guard that finds it held skips this
heartbeat, since the frame being written is traffic that keeps the connection alive too,
and the guard must stay free to enforce time limits.

py-amqp 5.4.2 also locks inside each frame writer (its frame buffer is shared), but 5.4.1
does not, and a guard that waited on that lock would stop enforcing time limits while it
waited: this lock the guard only tries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from compat import FrameWriter, frame_writer, replace_frame_writer


class WriteLock(Protocol):
    """A re-entrant lock: the guard's `attempt` holds it around a heartbeat, whose frame
    takes it again in the same thread."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...


class LockedFrameWriter:
    """A connection's frame writer that writes one frame at a time, whichever thread calls."""

    def __init__(self, inner: FrameWriter, lock: WriteLock) -> None:
        self.inner = inner
        self.lock = lock

    def __call__(self, type_: int, channel: int, method_sig: Any, args: Any, content: Any) -> Any:
        with self._held():
            return self.inner(type_, channel, method_sig, args, content)

    @contextmanager
    def _held(self) -> Iterator[None]:
        self.lock.acquire()
        try:
            yield
        finally:
            self.lock.release()

    @contextmanager
    def attempt(self) -> Iterator[bool]:
        """Hold the lock if no other thread does; yields whether it is held."""
        held = self.lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                self.lock.release()


def serialize_writes(connection: Any, lock: WriteLock | None = None) -> LockedFrameWriter:
    """Make every frame written on the py-amqp `connection` take one lock; idempotent.

    `lock`: the lock to use the first time (tests pass one that records who takes it).
    """
    current = frame_writer(connection)
    if isinstance(current, LockedFrameWriter):
        return current
    locked = LockedFrameWriter(current, lock if lock is not None else threading.RLock())
    replace_frame_writer(connection, locked)
    return locked
