"""Enqueue from async code: the event loop publishes itself, on a confirm channel of its own.

`task.delay()` inside an `async def` handler is blocking I/O on the event loop, and with
publisher confirms it also waits one broker round trip per task. Here the loop owns an
asyncio AMQP connection (pika's `AsyncioConnection`): a request encodes its message
(`producer.message_frames`: Celery's own message, stamped from a template), writes the
frames, and awaits a future that the broker's ack for its delivery tag resolves. The
socket is read by the loop's own reader callback, so no second Python thread competes
with the loop for the GIL, and concurrent requests share one confirm window
(`window` messages unconfirmed at most; `multiple=True` acks settle many at once).

A request whose message the broker refused (a nack, or a return for a mandatory message),
could not take (no connection), or did not confirm within `confirm_timeout_s` fails with
`BrokerUnavailable`: the caller answers 503 and the client retries; nothing is reported
enqueued that the broker did not confirm. A message written but not confirmed when the
connection died may still have been taken, so a retry should reuse the task id (the API's
Idempotency-Key does): the same task id twice is one result row. A lost connection is
reopened at once, on the next of the configured broker URLs; when none of them can be
opened, they are tried again in turn after `RECONNECT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pika
from celery import Celery, Signature
from pika.adapters.asyncio_connection import AsyncioConnection

from compat import write_frames
from metrics import instruments as m
from producer.bulk import Confirms
from producer.message_frames import Encoded, Labels, MessageEncoder

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 1000
CONFIRM_TIMEOUT_S = 10.0
RECONNECT_S = 1.0  # between attempts when no broker URL answers
TICK_S = 1.0  # how often overdue confirms are looked for
RETRY_AFTER_S = 2  # what a client is told to wait after a broker failure
CONNECT_WAIT_S = 2.0  # how long a request waits for a connection being opened


class BrokerUnavailable(RuntimeError):
    """The broker refused the task, could not be reached, or did not confirm it in time."""

    retry_after_s = RETRY_AFTER_S


@dataclass
class _InFlight:
    task_id: str
    future: asyncio.Future[str]
    sent_at: float
    labels: Labels | None
    returned: bool = False


class _Session:
    """One open connection, its confirm channel, and the messages awaiting its confirms."""

    def __init__(self, connection: AsyncioConnection, channel: Any) -> None:
        self.connection = connection
        self.channel = channel
        self.frame_max = int(connection.params.frame_max)
        self.inflight: dict[int, _InFlight] = {}  # delivery tag -> message, in tag order
        self.by_task: dict[str, int] = {}
        self.confirms = Confirms()


def broker_parameters(url: str) -> pika.URLParameters:
    """pika's parameters for a kombu-style broker URL (`amqp://`, `pyamqp://`, `amqps://`)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in {"amqp", "pyamqp", "amqps"}:
        raise ValueError(f"broker URL {url.rsplit('@', maxsplit=1)[-1]!r}: not an amqp:// URL")
    return pika.URLParameters(("amqps" if scheme == "amqps" else "amqp") + "://" + rest)


class AsyncPublisher:
    """Publishes signatures from coroutines with publisher confirms, on the running loop.

    Parameters:
        urls: broker URLs, tried in turn (a kombu URL list separated by `;` works too).
    """

    def __init__(
        self,
        app: Celery,
        urls: Sequence[str],
        *,
        window: int = DEFAULT_WINDOW,
        confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
    ) -> None:
        self.parameters = [broker_parameters(u) for url in urls for u in url.split(";") if u]
        if not self.parameters:
            raise ValueError("no broker URL for the publisher")
        self.encoder = MessageEncoder(app)
        self.window = window
        self.confirm_timeout_s = confirm_timeout_s
        self._session: _Session | None = None
        self._next_url = 0
        self._stopping = False
        self._room = asyncio.Event()
        self._up = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._connecting: AsyncioConnection | None = None

    @property
    def connected(self) -> bool:
        return self._session is not None

    async def start(self) -> None:
        """Open the first connection (without waiting for it) and watch confirm deadlines."""
        self._connect()
        self._watch = asyncio.create_task(self._expire_forever(), name="switchyard-confirms")

    async def stop(self, timeout: float = 10.0) -> None:
        """Wait for the unconfirmed messages (up to `timeout`), then close the connection."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        while (session := self._session) and session.inflight:
            if (left := deadline - time.monotonic()) <= 0:
                break
            self._room.clear()  # set by every confirm and by a lost connection
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), left)
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        self._fail_inflight("the publisher stopped")
        session_connection = self._session.connection if self._session else None
        for connection in (session_connection, self._connecting):
            if connection is not None and not (connection.is_closed or connection.is_closing):
                self._closed = asyncio.get_running_loop().create_future()
                connection.close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed, max(0.1, deadline - time.monotonic()))
        self._session = None

    async def enqueue(self, signature: Signature[Any]) -> str:
        """Publish `signature`; return its task id once the broker has confirmed it.

        Raises:
            BrokerUnavailable: nothing was confirmed for this task; retrying is safe.
            TypeError / kombu.exceptions.EncodeError: the arguments do not fit the task or
                are not JSON, or `signature` is a canvas (chain, group, chord); nothing
                was published.
        """
        if type(signature) is not Signature:
            raise TypeError(
                f"enqueue takes one task's signature, not a {type(signature).__name__}: "
                "a canvas publishes through the app's own producer, outside the confirm window"
            )
        encoded = self.encoder.encode(signature)
        if self._session is None and self._connecting is not None:
            # A connection is being opened (at start, or after one was lost): worth a wait.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), CONNECT_WAIT_S)
        while (session := self._session) is not None and len(session.inflight) >= self.window:
            self._room.clear()
            await self._room.wait()
        if session is None:
            raise BrokerUnavailable("no broker connection")
        return await self._publish(session, encoded)

    def _publish(self, session: _Session, encoded: Encoded) -> asyncio.Future[str]:
        tag = session.confirms.next_tag
        session.confirms.published(encoded.task_id)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        session.inflight[tag] = _InFlight(encoded.task_id, future, time.monotonic(), encoded.labels)
        if encoded.destination.mandatory:
            session.by_task[encoded.task_id] = tag
        write_frames(
            session.connection, encoded.frames(session.channel.channel_number, session.frame_max)
        )
        return future

    # Broker callbacks: all run on the loop, from pika's reader.

    def _connect(self) -> None:
        if self._stopping:
            return
        parameters = self.parameters[self._next_url % len(self.parameters)]
        self._next_url += 1
        self._connecting = AsyncioConnection(
            parameters,
            on_open_callback=self._opened,
            on_open_error_callback=self._open_failed,
            on_close_callback=self._lost,
            custom_ioloop=asyncio.get_running_loop(),
        )

    def _opened(self, connection: AsyncioConnection) -> None:
        connection.channel(on_open_callback=lambda channel: self._channel_open(connection, channel))

    def _channel_open(self, connection: AsyncioConnection, channel: Any) -> None:
        channel.add_on_close_callback(lambda _, reason: self._channel_closed(connection, reason))
        channel.add_on_return_callback(self._returned)
        channel.confirm_delivery(
            self._confirmed, callback=lambda _: self._ready(connection, channel)
        )

    def _ready(self, connection: AsyncioConnection, channel: Any) -> None:
        self._connecting = None
        self._session = _Session(connection, channel)
        self._session.confirms.on_settled = self._settled
        self._room.set()
        self._up.set()

    def _open_failed(self, _: AsyncioConnection, reason: BaseException) -> None:
        logger.warning("publisher: cannot connect to the broker (%s)", reason)
        self._connecting = None
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        tried_all = self._next_url % len(self.parameters) == 0
        asyncio.get_running_loop().call_later(RECONNECT_S if tried_all else 0, self._connect)

    def _lost(self, _: AsyncioConnection, reason: BaseException) -> None:
        was_open = self._session is not None
        self._fail_inflight(f"broker connection lost: {reason}")
        self._session = None
        self._up.clear()
        self._room.set()  # requests waiting for room fail now
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        if self._stopping:
            return
        logger.warning("publisher: broker connection lost (%s); reconnecting", reason)
        asyncio.get_running_loop().call_later(0 if was_open else RECONNECT_S, self._connect)

    def _channel_closed(self, connection: AsyncioConnection, reason: BaseException) -> None:
        """The broker closed the channel (a publish it would not take): start afresh."""
        self._fail_inflight(f"the broker closed the channel: {reason}")
        if not (connection.is_closed or connection.is_closing):
            connection.close()

    def _confirmed(self, frame: Any) -> None:
        method = frame.method
        refused = isinstance(method, pika.spec.Basic.Nack)
        if self._session is not None:
            self._session.confirms.settle(method.delivery_tag, method.multiple, refused)
            self._session.confirms.refused.clear()
            self._room.set()

    def _returned(self, _: Any, method: Any, properties: Any, __: bytes) -> None:
        """A mandatory message no queue took: its ack follows, and it fails then."""
        session = self._session
        tag = session.by_task.get(properties.correlation_id) if session else None
        if session is not None and tag in session.inflight:
            session.inflight[tag].returned = True
            logger.warning("publisher: the broker returned a message (%s)", method.reply_text)

    def _settled(self, tag: int, refused: bool) -> None:
        session = self._session
        message = session.inflight.pop(tag, None) if session else None
        if session is None or message is None:
            return
        session.by_task.pop(message.task_id, None)
        failed = refused or message.returned
        if message.labels is not None:
            (m.task_publish_failed if failed else m.task_sent).labels(*message.labels).inc()
        if message.future.done():
            return
        if failed:
            why = "refused" if refused else "returned as unroutable"
            message.future.set_exception(
                BrokerUnavailable(f"the broker {why} task {message.task_id}")
            )
        else:
            message.future.set_result(message.task_id)

    def _fail_inflight(self, why: str) -> None:
        """Fail what was written but not confirmed: the broker may or may not have it."""
        session = self._session
        if session is None:
            return
        for message in session.inflight.values():
            if not message.future.done():
                message.future.set_exception(BrokerUnavailable(why))
        session.inflight.clear()
        session.by_task.clear()

    async def _expire_forever(self) -> None:
        """Fail the messages whose confirm is overdue (the broker may be blocked)."""
        while True:
            await asyncio.sleep(TICK_S)
            session = self._session
            if session is None:
                continue
            now = time.monotonic()
            for tag, message in list(session.inflight.items()):
                if now - message.sent_at < self.confirm_timeout_s:
                    break
                del session.inflight[tag]
                session.by_task.pop(message.task_id, None)
                if not message.future.done():
                    message.future.set_exception(
                        BrokerUnavailable(f"no confirm within {self.confirm_timeout_s:.0f} s")
                    )
