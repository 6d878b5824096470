"""LISTEN/NOTIFY: waiters sleep until the database says their task is ready.

Every write of a ready state sends `NOTIFY switchyard_results, '<task id>'` in the same
statement. One listening connection per process, owned by a daemon thread, hands each
notified id to the `Watch` of the waiters that asked for it; a waiter then reads just those
rows. While the listening connection is down, every watch is told to resynchronise and the
waiters fall back to a slow poll, until the thread has reconnected (after which they read
once more, for anything that finished while nobody listened).

The thread starts with the first waiter and stops after `LINGER_S` without one, so a
process that never waits for results never receives notifications.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable

import psycopg
from psycopg import sql

from results.connections import connect_kwargs

logger = logging.getLogger(__name__)

APPLICATION_NAME = "switchyard-result-listener"
TICK_S = 1.0  # how often the thread looks up from the socket to check the waiters
PING_AFTER_S = 15.0  # a quiet connection is checked this often, to notice a dead server
LINGER_S = 30.0  # the thread keeps listening this long after the last waiter left
RECONNECT_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)


class Watch:
    """What one waiter waits for, and what the listener has told it since it last looked."""

    def __init__(self, task_ids: Iterable[str]) -> None:
        self.task_ids = frozenset(task_ids)
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._notified: set[str] = set()
        self._resync = False

    def take(self, timeout: float) -> tuple[set[str], bool]:
        """Wait up to `timeout` for news; return the notified ids and whether to read all.

        Reading all is asked for when the listening connection went down or came back:
        notifications may have been missed in between.
        """
        self._event.wait(timeout)
        with self._lock:
            notified, self._notified = self._notified, set()
            resync, self._resync = self._resync, False
            self._event.clear()
        return notified, resync

    def _notify(self, task_id: str) -> None:
        with self._lock:
            self._notified.add(task_id)
            self._event.set()

    def _request_resync(self) -> None:
        with self._lock:
            self._resync = True
            self._event.set()


class ResultListener:
    """The listening connection of this process and the watches waiting on it."""

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._by_id: dict[str, set[Watch]] = {}
        self._watches: set[Watch] = set()
        self._thread: threading.Thread | None = None
        self._idle_since: float | None = time.monotonic()  # None while someone waits
        self._connected = threading.Event()

    @property
    def connected(self) -> bool:
        """True while notifications arrive; waiters poll slowly otherwise."""
        return self._connected.is_set()

    def watch(self, task_ids: Iterable[str]) -> Watch:
        """Register a waiter; from now on, every notification for its ids reaches it.

        The caller reads the rows *after* this returns, so a task that finished before
        is found by that read and one that finishes later is notified.
        """
        watch = Watch(task_ids)
        with self._lock:
            self._watches.add(watch)
            self._idle_since = None
            for task_id in watch.task_ids:
                self._by_id.setdefault(task_id, set()).add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="switchyard-result-listener", daemon=True
                )
                self._thread.start()
        return watch

    def unwatch(self, watch: Watch) -> None:
        with self._lock:
            self._watches.discard(watch)
            for task_id in watch.task_ids:
                waiting = self._by_id.get(task_id)
                if waiting is not None:
                    waiting.discard(watch)
                    if not waiting:
                        del self._by_id[task_id]
            if not self._watches:
                self._idle_since = time.monotonic()

    def watching(self, task_id: str) -> bool:
        """True when some waiter of this process waits for `task_id`."""
        with self._lock:
            return task_id in self._by_id

    def _run(self) -> None:
        attempt = 0
        while True:
            try:
                with psycopg.connect(self.url, **connect_kwargs(APPLICATION_NAME)) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    attempt = 0
                    self._connected.set()
                    self._resync_all()
                    if not self._listen(conn):
                        return
            except psycopg.Error as exc:
                logger.warning("result listener: connection lost (%s); waiters poll", exc)
            self._connected.clear()
            self._resync_all()
            if self._stop_if_idle():
                return
            time.sleep(RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)])
            attempt += 1

    def _listen(self, conn: psycopg.Connection[tuple[object, ...]]) -> bool:
        """Hand notifications to watches; False once idle long enough to stop."""
        last_heard = time.monotonic()
        while True:
            for notify in conn.notifies(timeout=TICK_S):
                last_heard = time.monotonic()
                self._dispatch(notify.payload)
            if self._stop_if_idle():
                return False
            if time.monotonic() - last_heard > PING_AFTER_S:
                conn.execute("SELECT 1")
                last_heard = time.monotonic()

    def _dispatch(self, task_id: str) -> None:
        with self._lock:
            watches = list(self._by_id.get(task_id, ()))
        for watch in watches:
            watch._notify(task_id)

    def _resync_all(self) -> None:
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch._request_resync()

    def _stop_if_idle(self) -> bool:
        with self._lock:
            idle_since = self._idle_since
            if idle_since is None or time.monotonic() - idle_since < LINGER_S:
                return False
            self._connected.clear()
            self._thread = None
            return True
