"""The threads pool's time limits, on the real pool class and its real threads.

The target stands in for Celery's tracer: it sends `task_prerun` and `task_postrun` around
the task body in the pool's thread, as the tracer does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from celery import signals
from kombu.utils.imports import symbol_by_name

from execution.thread_pool import GuardedThreadPool
from routing.declaration import TOPOLOGY
from routing.worker_command import CUSTOM_POOL_ENV, worker_argv, worker_env

SOFT_S, HARD_S = 0.3, 0.8


@pytest.fixture
def pool() -> Iterator[GuardedThreadPool]:
    p = GuardedThreadPool(limit=2)
    p.start()
    yield p
    p.stop()


class Outcome:
    def __init__(self) -> None:
        self.reported: list[Any] = []
        self.timeouts: list[tuple[bool, float]] = []
        self.seen: list[str] = []
        self.done = threading.Event()


def _body(outcome: Outcome, catch_soft: bool, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            time.sleep(0.01)
    except SoftTimeLimitExceeded:
        outcome.seen.append("soft")
        if not catch_soft:
            return "stopped at the soft limit"
        while True:  # a careless task: only the hard limit stops it
            time.sleep(0.01)
    return "finished"


def _traced(task_id: str, outcome: Outcome, body: Callable[[], str]) -> Callable[[], str]:
    def target() -> str:
        signals.task_prerun.send(sender=None, task_id=task_id)
        try:
            return body()
        except BaseException as exc:
            outcome.seen.append(type(exc).__name__)
            raise
        finally:
            signals.task_postrun.send(sender=None, task_id=task_id)
            outcome.done.set()

    return target


def _apply(pool: GuardedThreadPool, task_id: str, outcome: Outcome, body: Any) -> Any:
    return pool.apply_async(
        _traced(task_id, outcome, body),
        callback=outcome.reported.append,
        timeout_callback=lambda soft, limit: outcome.timeouts.append((soft, limit)),
        soft_timeout=SOFT_S,
        timeout=HARD_S,
        correlation_id=task_id,
    )


def test_the_soft_limit_raises_in_the_tasks_thread(pool: GuardedThreadPool) -> None:
    outcome = Outcome()
    _apply(pool, "soft", outcome, lambda: _body(outcome, catch_soft=False, seconds=30)).wait(10)
    assert outcome.seen == ["soft"]
    assert outcome.reported == ["stopped at the soft limit"]
    assert outcome.timeouts == [(True, SOFT_S)]


def test_the_hard_limit_reports_the_task_and_ends_its_thread(pool: GuardedThreadPool) -> None:
    outcome = Outcome()
    _apply(pool, "hard", outcome, lambda: _body(outcome, catch_soft=True, seconds=30)).wait(10)
    assert outcome.done.is_set()
    # Reported once, by the pool at the hard limit, as prefork does; the thread's own end
    # (a BaseException no `except Exception` stops) is not reported again.
    assert outcome.timeouts == [(True, SOFT_S), (False, HARD_S)]
    assert outcome.seen == ["soft", "HardTimeLimitKill"]
    assert outcome.reported == []


def test_nothing_is_raised_once_the_task_returned(pool: GuardedThreadPool) -> None:
    outcome = Outcome()
    _apply(pool, "quick", outcome, lambda: _body(outcome, catch_soft=False, seconds=0)).wait(10)
    time.sleep(HARD_S + 0.3)  # past both limits: the disarmed task must see neither
    assert outcome.reported == ["finished"]
    assert outcome.timeouts == []
    assert outcome.seen == []


def test_the_threads_kind_selects_the_guarded_pool() -> None:
    webhooks = TOPOLOGY.pool("webhooks")
    assert webhooks.kind == "threads"
    argv = worker_argv(webhooks)
    assert argv[argv.index("--pool") + 1] == "custom"
    assert symbol_by_name(worker_env(webhooks)[CUSTOM_POOL_ENV]) is GuardedThreadPool
