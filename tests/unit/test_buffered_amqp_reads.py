"""py-amqp's TCP transport reading in chunks (`compat.buffer_amqp_reads`), on a real socket
pair: the same frames as py-amqp's own read, with far fewer `recv` calls, nothing lost when a
read times out in the middle of a frame; installed only in the app's own workers."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from amqp.transport import TCPTransport
from celery import Celery

import compat
from config.app import app, buffer_broker_reads

FRAME_END = b"\xce"


def _frame(channel: int, payload: bytes, frame_type: int = 1) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + FRAME_END


@pytest.fixture
def original_read() -> Iterator[Any]:
    """py-amqp's own `_read`, put back after the test whatever it installed."""
    original = TCPTransport.__dict__["_read"]
    yield original
    TCPTransport._read = original  # type: ignore[attr-defined]


@pytest.fixture
def pair() -> Iterator[tuple[Any, socket.socket, list[int]]]:
    """A py-amqp TCP transport on one end of a socket pair, the other end, and the sizes
    of the `recv` calls the transport made."""
    ours, theirs = socket.socketpair()
    transport: Any = object.__new__(TCPTransport)
    transport.sock = ours
    transport.raise_on_initial_eintr = True
    transport.connected = True
    transport._setup_transport()
    calls: list[int] = []
    recv = ours.recv

    def counted(size: int) -> bytes:
        calls.append(size)
        return recv(size)

    transport._quick_recv = counted
    yield transport, theirs, calls
    ours.close()
    theirs.close()


def _read_all(transport: Any, count: int) -> list[tuple[int, int, bytes]]:
    return [tuple(transport.read_frame()) for _ in range(count)]


FRAMES = [_frame(1, b"m" * (20 + i % 300)) for i in range(150)]  # 50 task messages' worth
EXPECTED = [(1, 1, b"m" * (20 + i % 300)) for i in range(150)]


def test_a_backlog_is_read_in_a_few_calls_and_each_frame_whole(
    original_read: Any, pair: tuple[Any, socket.socket, list[int]]
) -> None:
    transport, theirs, calls = pair
    theirs.sendall(b"".join(FRAMES))
    assert _read_all(transport, 75) == EXPECTED[:75]
    stock_calls = len(calls)
    compat.buffer_amqp_reads()
    calls.clear()
    assert _read_all(transport, 75) == EXPECTED[75:]
    # py-amqp's own read: three calls per frame; in chunks: a handful for the rest.
    assert stock_calls == 3 * 75
    assert len(calls) <= 5, calls
    compat.buffer_amqp_reads()  # installing twice changes nothing
    assert TCPTransport.__dict__["_read"].buffered_chunk == compat.AMQP_READ_CHUNK


def test_a_frame_larger_than_a_chunk_arrives_whole(
    original_read: Any, pair: tuple[Any, socket.socket, list[int]]
) -> None:
    compat.buffer_amqp_reads()
    transport, theirs, _calls = pair
    body = bytes(range(256)) * 4096  # 1 MiB
    sender = threading.Thread(target=theirs.sendall, args=(_frame(3, body, 3) + FRAMES[0],))
    sender.start()
    try:
        assert tuple(transport.read_frame()) == (3, 3, body)
        assert tuple(transport.read_frame()) == EXPECTED[0]
    finally:
        sender.join()


def test_a_timeout_in_the_middle_of_a_frame_loses_nothing(
    original_read: Any, pair: tuple[Any, socket.socket, list[int]]
) -> None:
    compat.buffer_amqp_reads()
    transport, theirs, _calls = pair
    frame = _frame(2, b"x" * 500)
    theirs.sendall(FRAMES[0] + frame[:3])  # a whole frame, then 3 bytes of a header
    transport.sock.settimeout(0.2)
    assert tuple(transport.read_frame()) == EXPECTED[0]
    with pytest.raises(socket.timeout):
        transport.read_frame()
    theirs.sendall(frame[3:200])
    with pytest.raises(socket.timeout):  # header complete, payload not
        transport.read_frame()
    theirs.sendall(frame[200:])
    assert tuple(transport.read_frame()) == (1, 2, b"x" * 500)


def test_only_the_apps_own_workers_install_it(original_read: Any) -> None:
    install = buffer_broker_reads(app)
    install(
        sender="default@host",
        instance=SimpleNamespace(app=Celery("someone-else", set_as_current=False)),
    )
    assert TCPTransport.__dict__["_read"] is original_read
    install(sender="default@host", instance=SimpleNamespace(app=app))
    assert TCPTransport.__dict__["_read"] is not original_read
