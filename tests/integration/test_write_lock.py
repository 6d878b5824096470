"""The task guard and the worker's thread never write on one broker connection at once:
tested on a real RabbitMQ connection by holding a frame half-written on the socket while
the guard wants to send a heartbeat.

Without the lock the same interleaving puts the heartbeat's bytes inside the frame and the
broker closes the connection: the check at the end can tell the two apart.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import amqp
import pytest
from amqp.method_framing import frame_writer
from kombu import Connection

from compat import replace_frame_writer
from config.settings import Settings
from execution.guard import TaskGuard, connection_parts
from execution.write_lock import serialize_writes

HEARTBEAT_S = 2  # the guard beats every second while a task runs
WAIT_S = 30.0  # a bound on waiting for the other thread, not a measured duration
BODY = b"one frame, held half-written" * 8
HEARTBEAT_FRAME_BYTES = 8  # type, channel 0, size 0, frame end


class HalfWayTransport:
    """The connection's transport, except that the next write from the task's thread stops
    half-way until `on_half` returns. Records who wrote what, in order."""

    def __init__(self, transport: Any, on_half: Callable[[], None]) -> None:
        self.transport = transport
        self.on_half = on_half
        self.task_thread = threading.current_thread()
        self.armed = False
        self.writes: list[tuple[str, int]] = []  # ("task" | "other", bytes written)
        self.other_wrote = threading.Event()

    def write(self, data: Any) -> None:
        data = bytes(data)
        mine = threading.current_thread() is self.task_thread
        if mine and self.armed:
            self.armed = False
            half = len(data) // 2
            self._write("task", data[:half])
            self.on_half()
            self._write("task", data[half:])
            return
        self._write("task" if mine else "other", data)

    def _write(self, who: str, data: bytes) -> None:
        self.transport.write(data)
        self.writes.append((who, len(data)))
        if who == "other":
            self.other_wrote.set()


@dataclass
class RecordingLock:
    """The write lock, recording whether another thread found it held."""

    inner: Any = field(default_factory=threading.RLock)
    refused_to_other: threading.Event = field(default_factory=threading.Event)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        held = bool(self.inner.acquire(blocking, timeout))
        if not held and threading.current_thread() is not threading.main_thread():
            self.refused_to_other.set()
        return held

    def release(self) -> None:
        self.inner.release()


@contextlib.contextmanager
def _connection(settings: Settings) -> Iterator[tuple[Connection, Any, str]]:
    """A broker connection, one channel on it, and a queue of its own."""
    connection = Connection(settings.broker_url, heartbeat=HEARTBEAT_S)
    try:
        connection.connect()
        channel = connection.connection.channel()
        queue = channel.queue_declare(queue="", exclusive=True, auto_delete=True).queue
        yield connection, channel, str(queue)
    finally:
        with contextlib.suppress(Exception):  # the unlocked case leaves it broken
            connection.release()


def _half_way(connection: Connection, on_half: Callable[[], None]) -> HalfWayTransport:
    """Writes of the connection go through a `HalfWayTransport`, below any lock."""
    amqp_connection = connection.connection
    transport = HalfWayTransport(amqp_connection.transport, on_half)
    replace_frame_writer(amqp_connection, frame_writer(amqp_connection, transport))
    return transport


def _round_trip(connection: Connection, channel: Any, queue: str) -> bytes | None:
    """The message the broker holds in `queue`, or None when the connection is gone."""
    errors: tuple[type[BaseException], ...] = (
        OSError,
        *connection.connection_errors,
        *connection.channel_errors,
    )
    try:
        message = channel.basic_get(queue, no_ack=True)
    except errors:
        return None
    return bytes(message.body) if message is not None else b""


def test_a_heartbeat_waits_for_a_frame_half_written_by_the_task_thread(
    broker: Connection, settings: Settings
) -> None:
    lock = RecordingLock()
    guard = TaskGuard(tick_s=0.05)
    guard.start()
    try:
        with _connection(settings) as (connection, channel, queue):

            def guard_tried() -> None:
                assert lock.refused_to_other.wait(WAIT_S), "the guard never tried to beat"

            transport = _half_way(connection, guard_tried)
            serialize_writes(connection.connection, lock=lock)
            guard.watch(*connection_parts(connection))
            with guard.running("writes on the consumer connection", None, None):
                transport.armed = True
                channel.basic_publish(amqp.Message(BODY), exchange="", routing_key=queue)
                assert transport.other_wrote.wait(WAIT_S), "the guard never beat"
            guard.watch(None, None)
            # Both halves of the task's frame, then the guard's heartbeat (8 bytes).
            assert [who for who, _ in transport.writes[:3]] == ["task", "task", "other"]
            assert transport.writes[2][1] == HEARTBEAT_FRAME_BYTES
            assert _round_trip(connection, channel, queue) == BODY
    finally:
        guard.stop()


def test_without_the_lock_the_same_interleaving_breaks_the_connection(
    broker: Connection, settings: Settings
) -> None:
    """The check above can fail: a heartbeat written inside a half-written frame makes the
    broker close the connection, and the round trip sees it.

    The heartbeat goes through a frame writer of its own, as py-amqp builds one, that shares
    no lock with the connection's (py-amqp 5.4.2 locks inside each writer; 5.4.1 does not)."""
    with _connection(settings) as (connection, channel, queue):
        amqp_connection = connection.connection

        def beat_in_between() -> None:
            unlocked = frame_writer(amqp_connection, transport)
            beat = threading.Thread(target=unlocked, args=(8, 0, None, None, None))
            beat.start()
            beat.join(WAIT_S)

        transport = _half_way(connection, beat_in_between)
        transport.armed = True
        channel.basic_publish(amqp.Message(BODY), exchange="", routing_key=queue)
        assert [who for who, _ in transport.writes[:3]] == ["task", "other", "task"]
        assert _round_trip(connection, channel, queue) is None


@pytest.fixture(autouse=True)
def _no_stray_guard_signal() -> Iterator[None]:
    """The guard installs a signal handler in this process; leave the default behind."""
    import signal

    from execution.guard import INTERRUPT_SIGNAL

    previous = signal.getsignal(INTERRUPT_SIGNAL)
    yield
    signal.signal(INTERRUPT_SIGNAL, previous)
