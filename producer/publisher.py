"""Enqueue from async code: one publisher thread owns the broker connection; the loop only awaits.

`task.delay()` inside an `async def` handler is blocking I/O on the event loop, and with
publisher confirms it also waits one broker round trip per task. Here a request hands its
signature to a dedicated thread and awaits a future. The thread publishes whatever requests
are waiting, in one socket write (the stamped fast path of `producer.bulk`), keeps up to
`window` messages unconfirmed at once, and answers each request as soon as the broker's ack
(or nack) for its own message arrives. Many concurrent requests so share one confirm window.

A request whose message the broker refused, could not take (no connection), or did not
confirm within `confirm_timeout_s` fails with `BrokerUnavailable`: the caller answers 503 and
the client retries; nothing is reported enqueued that the broker did not confirm. A message
that was written but not confirmed when the connection died may still have been taken, so a
retry should reuse the task id (the API's Idempotency-Key does): the same task id twice is
one result row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import Celery, Signature

from producer.bulk import Confirms, Publisher, confirm_channel, read_available

logger = logging.getLogger(__name__)

DEFAULT_WINDOW = 1000
CONFIRM_TIMEOUT_S = 10.0
TICK_S = 1.0  # the thread looks up this often: heartbeats, confirm deadlines, reconnects
RETRY_AFTER_S = 2  # what a client is told to wait after a broker failure


class BrokerUnavailable(RuntimeError):
    """The broker refused the task, could not be reached, or did not confirm it in time."""

    retry_after_s = RETRY_AFTER_S


@dataclass
class _Request:
    signature: Signature[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[str]
    task_id: str = ""
    sent_at: float = field(default=0.0)
    attempts: int = 0


Outcome = tuple[_Request, str | BaseException]


class AsyncPublisher:
    """Publishes signatures for coroutines, off the event loop, with publisher confirms.

    Parameters:
        connect: opens a kombu connection for writing (the app's by default; the API passes
            one for its own broker user).
    """

    def __init__(
        self,
        app: Celery,
        connect: Callable[[], Any] | None = None,
        *,
        window: int = DEFAULT_WINDOW,
        confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.connect = connect or app.connection_for_write
        self.window = window
        self.confirm_timeout_s = confirm_timeout_s
        self.connected = threading.Event()
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._stop = threading.Event()
        self._sleeping = False
        self._thread: threading.Thread | None = None
        self._inflight: dict[int, _Request] = {}
        self._outcomes: list[Outcome] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="switchyard-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Publish what is queued, wait for its confirms (up to `timeout`), then disconnect."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)
        os.close(self._wake_r)
        os.close(self._wake_w)

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
                "a canvas publishes through the app's own producer, outside this thread"
            )
        # The topology is declared by `topology declare`; a producer that re-declared the
        # queue on every first publish would need permission to reconfigure it.
        signature = signature.clone()
        signature.options["declare"] = []
        loop = asyncio.get_running_loop()
        request = _Request(signature, loop, loop.create_future())
        self._requests.put(request)
        if self._sleeping:  # else the thread looks at the queue before it sleeps again
            self._wake()
        return await request.future

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # a full pipe is awake already
            os.write(self._wake_w, b"x")

    def _sleep(self, readers: list[Any], timeout: float, *, taking: bool = True) -> list[Any]:
        """`select` on `readers` and the wake pipe, unless a request came in meanwhile and
        the thread is `taking` requests (its confirm window has room).

        `_sleeping` is set before the queue is looked at, so a request put after that look
        sees it set and writes to the pipe; one put before it is found by the look.
        """
        self._sleeping = True
        try:
            if taking and not self._requests.empty():
                return []
            readable, _, _ = select.select([*readers, self._wake_r], [], [], timeout)
        finally:
            self._sleeping = False
        if self._wake_r in readable:
            self._drain_wake()
        return readable

    # The publisher thread.

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as exc:
                logger.warning("publisher: broker connection failed (%s)", exc)
                self._fail_inflight(exc)
            lost = self.connected.is_set()
            self.connected.clear()
            if self._stop.is_set():
                break
            if lost:  # a connection that worked: reconnect at once, the waiting requests wait
                continue
            # The broker cannot be reached: until the next attempt every request fails at once.
            self._fail_waiting()
            deadline = time.monotonic() + TICK_S
            while not self._stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
                self._sleep([], remaining)
                self._fail_waiting()
        self._fail_waiting()

    def _session(self) -> None:
        """Publish on one connection until it fails or the publisher stops."""
        with self.connect() as conn:
            conn.connect()
            confirms = Confirms(on_settled=self._settled)
            channel = confirm_channel(conn, confirms)
            publisher = Publisher(self.app, conn, channel, confirms)
            sock = conn.connection.sock
            errors = (*conn.connection_errors, *conn.channel_errors)
            self.connected.set()
            while True:
                self._publish_waiting(publisher, errors)
                publisher.flush()
                if self._outcomes:
                    publisher.count_settled()
                    self._deliver()
                if self._stop.is_set() and not self._inflight:
                    channel.close()
                    return
                taking = len(self._inflight) < self.window
                if sock in self._sleep([sock], self._timeout(), taking=taking):
                    read_available(conn)
                self._expire()
                conn.heartbeat_check()

    def _publish_waiting(self, publisher: Publisher, errors: tuple[type[Exception], ...]) -> None:
        confirms = publisher.confirms
        while len(self._inflight) < self.window:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request.future.done():  # the caller went away before it was published
                continue
            before = confirms.next_tag
            try:
                request.task_id = publisher.send(request.signature).id
            except errors as exc:
                request.attempts += 1
                if request.attempts > 1:  # it failed a fresh connection too
                    self._outcomes.append((request, BrokerUnavailable(str(exc))))
                else:  # tried again once the connection is back
                    self._requests.put(request)
                raise
            except Exception as exc:  # bad arguments: this request only
                self._outcomes.append((request, exc))
                continue
            if confirms.next_tag == before:
                self._outcomes.append((request, RuntimeError("nothing was published")))
                continue
            request.sent_at = time.monotonic()
            self._inflight[confirms.next_tag - 1] = request

    def _settled(self, tag: int, refused: bool) -> None:
        request = self._inflight.pop(tag, None)
        if request is None:
            return
        outcome: str | BaseException = (
            BrokerUnavailable(f"the broker refused task {request.task_id}")
            if refused
            else request.task_id
        )
        self._outcomes.append((request, outcome))

    def _timeout(self) -> float:
        if not self._inflight:
            return TICK_S
        oldest = next(iter(self._inflight.values())).sent_at
        return max(0.0, min(TICK_S, oldest + self.confirm_timeout_s - time.monotonic()))

    def _expire(self) -> None:
        """Fail the requests whose confirm is overdue (the broker may be blocked)."""
        now = time.monotonic()
        for tag, request in list(self._inflight.items()):
            if now - request.sent_at < self.confirm_timeout_s:
                break
            del self._inflight[tag]
            self._outcomes.append(
                (request, BrokerUnavailable(f"no confirm within {self.confirm_timeout_s:.0f} s"))
            )

    def _fail_inflight(self, exc: BaseException) -> None:
        """Fail what was written but not confirmed: the broker may or may not have it."""
        failure = BrokerUnavailable(f"broker connection failed: {exc}")
        self._outcomes.extend((r, failure) for r in self._inflight.values())
        self._inflight.clear()
        self._deliver()

    def _fail_waiting(self, failure: BaseException | None = None) -> None:
        failure = failure or BrokerUnavailable("no broker connection")
        while True:
            try:
                self._outcomes.append((self._requests.get_nowait(), failure))
            except queue.Empty:
                break
        self._deliver()

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 4096):
                pass

    def _deliver(self) -> None:
        """Hand the outcomes to their event loops: one wake-up per loop, not per request."""
        outcomes, self._outcomes = self._outcomes, []
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for request, outcome in outcomes:
            by_loop.setdefault(request.loop, []).append((request, outcome))
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, items)


def _resolve(items: list[Outcome]) -> None:
    for request, outcome in items:
        if request.future.done():
            continue
        if isinstance(outcome, BaseException):
            request.future.set_exception(outcome)
        else:
            request.future.set_result(outcome)
