"""Waiting for results: asleep until notified, polling only while notifications can be missed.

`get()`, `GroupResult.get()` and `join()` all end here (through the backend's `wait_for` and
`get_many`). A waiter registers its task ids with the process's listener *before* its first
read, so a task finishing after that read is always notified. It then reads only the rows it
was notified about, in one query per wake-up, however many tasks it waits for.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from celery.exceptions import TimeoutError

from results.connections import RETRYABLE
from results.listener import ResultListener
from results.store import RESULT_CHANNEL

logger = logging.getLogger(__name__)

HEARTBEAT_S = 1.0  # a waiter wakes this often to run Celery's on_interval checks
FALLBACK_POLL_S = 1.0  # while notifications can be missed, waiters read this often

Meta = dict[str, Any]
ReadMetas = Callable[[Iterable[str]], dict[str, Meta]]

# Listeners of this process's parent, kept so no finalizer closes the parent's session.
_inherited: list[ResultListener] = []


class Waiter:
    """Waits for task ids of one backend; one listener per process, shared by its threads."""

    def __init__(self, url: str, read_metas: ReadMetas) -> None:
        self.url = url
        self.read_metas = read_metas
        self._listener: ResultListener | None = None

    def listener(self) -> ResultListener:
        """This process's listener (a forked child gets its own)."""
        if self._listener is None or self._listener.pid != os.getpid():
            if self._listener is not None:
                _inherited.append(self._listener)
            self._listener = ResultListener(self.url, RESULT_CHANNEL)
        return self._listener

    def ready_now(
        self, task_ids: set[str], ready_states: frozenset[str]
    ) -> Iterator[tuple[str, Meta]]:
        """One read: the ready ones among `task_ids`, removed from the set as they are yielded."""
        if not task_ids:
            return
        for task_id, meta in self.read_metas(set(task_ids)).items():
            if meta["status"] in ready_states:
                task_ids.discard(task_id)
                yield task_id, meta

    def wait(
        self,
        pending: set[str],
        timeout: float | None,
        ready_states: frozenset[str],
        on_interval: Callable[[], object] | None = None,
    ) -> Iterator[tuple[str, Meta]]:
        """Yield `(task_id, meta)` as each of `pending` becomes ready, emptying the set.

        Raises:
            celery.exceptions.TimeoutError: `timeout` seconds passed with tasks not ready.
        """
        listener = self.listener()
        watch = listener.watch(pending)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            to_read = set(pending)
            while True:
                read_failed = False
                try:
                    for task_id, meta in self.ready_now(to_read, ready_states):
                        pending.discard(task_id)
                        yield task_id, meta
                except RETRYABLE as exc:
                    logger.warning("reading results failed (%s); retrying", exc)
                    read_failed = True
                if not pending:
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"Operation timed out ({timeout})")
                if on_interval:
                    on_interval()
                # Poll while notifications cannot be trusted: the listener is down, or this
                # waiter's own read failed (what it missed was notified before).
                polling = read_failed or not listener.connected
                nap = FALLBACK_POLL_S if polling else HEARTBEAT_S
                notified, resync = watch.take(nap if remaining is None else min(nap, remaining))
                polling = polling or resync or not listener.connected
                to_read = set(pending) if polling else notified & pending
        finally:
            listener.unwatch(watch)
