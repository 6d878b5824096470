"""The write lock around a connection's frames: installed once, and only tried by the guard
(`tests/integration/test_write_lock.py` interleaves the two writers on the broker)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from execution.write_lock import LockedFrameWriter, serialize_writes

WAIT_S = 10.0  # a bound on waiting for the other thread, not a measured duration


class _Connection:
    """What `serialize_writes` touches of a py-amqp connection: its frame writer."""

    def __init__(self) -> None:
        self.frames: list[tuple[Any, ...]] = []
        self.frame_writer: Any = lambda *frame: self.frames.append(frame)


def test_every_frame_goes_through_one_lock_installed_once() -> None:
    connection = _Connection()
    locked = serialize_writes(connection)
    assert connection.frame_writer is locked
    assert serialize_writes(connection) is locked, "a second call wraps it again"
    connection.frame_writer(8, 0, None, None, None)
    assert connection.frames == [(8, 0, None, None, None)]


def test_the_guard_does_not_get_the_lock_while_another_thread_writes() -> None:
    locked = serialize_writes(_Connection())
    writing, done = threading.Event(), threading.Event()

    def write_slowly(*_: Any) -> None:
        writing.set()
        done.wait(WAIT_S)

    locked.inner = write_slowly
    writer = threading.Thread(target=locked, args=(1, 1, None, None, None))
    writer.start()
    assert writing.wait(WAIT_S)
    with locked.attempt() as free:
        assert free is False
    done.set()
    writer.join(WAIT_S)
    with locked.attempt() as free:
        assert free is True
        locked(8, 0, None, None, None)  # the heartbeat re-enters the lock it holds


def test_the_lock_is_released_after_a_failed_write() -> None:
    def broken(*_: Any) -> None:
        raise OSError("broken pipe")

    locked = LockedFrameWriter(broken, threading.RLock())
    with pytest.raises(OSError, match="broken pipe"):
        locked(8, 0, None, None, None)
    released: list[bool] = []
    thread = threading.Thread(target=lambda: released.append(locked.lock.acquire(False)))
    thread.start()
    thread.join(WAIT_S)
    assert released == [True]
