"""Waiting for a task's result in async code: woken by PostgreSQL NOTIFY, never by a poll loop.

The result backend's every write of a ready state sends a notification (`results.store`),
usually carrying the row itself. Here one psycopg async connection per process LISTENs on
that channel and hands each notification to the waiters of that task id; a waiter registers
*before* it reads the row once, so a task finishing after that read is always notified. Only
while the listening connection is down do waiters read again, every `FALLBACK_POLL_S`, until
it is back (and then once more, for what finished while nobody listened).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal

import psycopg
from celery import states
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from results.connections import connect_kwargs
from results.store import (
    READ_STATES,
    RESULT_CHANNEL,
    StoredState,
    notified_state,
    split_notification,
    stored_state,
)

logger = logging.getLogger(__name__)

APPLICATION_NAME = "switchyard-api"
FALLBACK_POLL_S = 1.0
RECONNECT_BACKOFF_S = (0.1, 0.25, 0.5, 1.0, 2.0)
POOL_MAX_SIZE = 8

WokenBy = Literal["stored", "notify", "poll", "timeout"]


@dataclass(frozen=True)
class Outcome:
    """A task's stored state (None: nothing stored yet) and what ended the wait."""

    state: StoredState | None
    woken_by: WokenBy


class _Waiter:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.row: str | None = None


class ResultWaiter:
    """Reads task states and waits for them, on one event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[object, ...]]] = (
            AsyncConnectionPool(
                url,
                min_size=1,
                max_size=POOL_MAX_SIZE,
                kwargs=connect_kwargs(APPLICATION_NAME),
                open=False,
            )
        )
        self.listening = asyncio.Event()
        self._waiters: dict[str, set[_Waiter]] = {}
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pool.open(wait=False)
        self._listener = asyncio.create_task(self._listen(), name="switchyard-result-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.pool.close()

    async def read(self, task_id: str) -> StoredState | None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(READ_STATES, ([task_id],))
            row = await cursor.fetchone()
        return None if row is None else stored_state(row)

    async def wait(self, task_id: str, timeout: float) -> Outcome:
        """The task's state once ready, or as it is after `timeout` seconds."""
        waiter = _Waiter()
        self._waiters.setdefault(task_id, set()).add(waiter)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            state = await self.read(task_id)
            woken_by: WokenBy = "stored"
            while state is None or state.state not in states.READY_STATES:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return Outcome(await self.read(task_id), "timeout")
                polling = not self.listening.is_set()
                nap = min(remaining, FALLBACK_POLL_S) if polling else remaining
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.event.wait(), nap)
                notified = waiter.event.is_set()
                waiter.event.clear()
                row, waiter.row = waiter.row, None
                if row is not None:
                    state, woken_by = notified_state(row), "notify"
                elif notified or polling:
                    state, woken_by = await self.read(task_id), "notify" if notified else "poll"
            return Outcome(state, woken_by)
        finally:
            waiting = self._waiters.get(task_id)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del self._waiters[task_id]

    async def _listen(self) -> None:
        attempt = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, **connect_kwargs(f"{APPLICATION_NAME}-listener")
                )
                async with conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(RESULT_CHANNEL)))
                    attempt = 0
                    self.listening.set()
                    self._wake_all()  # read once more: a result may have come while deaf
                    async for notify in conn.notifies():
                        task_id, row = split_notification(notify.payload)
                        for waiter in self._waiters.get(task_id, ()):
                            waiter.row = row
                            waiter.event.set()
            except psycopg.Error as exc:
                logger.warning("result listener: connection lost (%s); waiters poll", exc)
            self.listening.clear()
            self._wake_all()
            await asyncio.sleep(RECONNECT_BACKOFF_S[min(attempt, len(RECONNECT_BACKOFF_S) - 1)])
            attempt += 1

    def _wake_all(self) -> None:
        for waiting in self._waiters.values():
            for waiter in waiting:
                waiter.event.set()
