"""The inline pool's guard: time limits raised in the task's thread, the process ended
when a task ignores its hard limit, and nothing raised once the task has returned."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded, WorkerLostError
from kombu.utils.imports import symbol_by_name

from execution.guard import TaskGuard
from execution.inline_pool import InlinePool
from execution.isolated import run_in_child
from routing.model import PoolSpec, TopologyError
from routing.worker_command import CUSTOM_POOL_ENV, worker_argv, worker_env

TICK_S = 0.02


@pytest.fixture
def wedged() -> threading.Event:
    return threading.Event()


@pytest.fixture
def guard(wedged: threading.Event) -> Iterator[TaskGuard]:
    g = TaskGuard(tick_s=TICK_S, grace_s=0.3, on_wedged=wedged.set)
    g.start()
    yield g
    g.stop()


def _busy(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


def test_soft_limit_raises_in_the_task(guard: TaskGuard) -> None:
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded), guard.running("t", 0.2, 5):
        _busy(3)
    assert 0.2 <= time.monotonic() - started < 1


def _outstay_soft_limit(caught: list[str]) -> None:
    try:
        _busy(3)
    except SoftTimeLimitExceeded:
        caught.append("soft")
        _busy(3)


def test_hard_limit_raises_after_a_caught_soft_limit(guard: TaskGuard) -> None:
    caught: list[str] = []
    with pytest.raises(TimeLimitExceeded), guard.running("t", 0.1, 0.4):
        _outstay_soft_limit(caught)
    assert caught == ["soft"]


def test_a_task_that_ignores_its_hard_limit_ends_the_process(
    guard: TaskGuard, wedged: threading.Event
) -> None:
    with guard.running("t", 0.1, 0.2):
        deadline = time.monotonic() + 5
        while not wedged.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(SoftTimeLimitExceeded, TimeLimitExceeded):
                time.sleep(0.01)  # a task that swallows everything
    assert wedged.is_set()


def test_nothing_is_raised_once_the_task_returned(
    guard: TaskGuard, wedged: threading.Event
) -> None:
    with guard.running("quick", 0.1, 0.2):
        pass
    _busy(0.6)  # past both limits of the finished task
    assert not wedged.is_set()


def test_the_inline_kind_selects_the_inline_pool() -> None:
    pool = PoolSpec("fast", queues=("fast",), kind="inline", concurrency=1)
    argv = worker_argv(pool)
    assert argv[argv.index("--pool") + 1] == "custom"
    assert symbol_by_name(worker_env(pool)[CUSTOM_POOL_ENV]) is InlinePool
    assert worker_env(PoolSpec("slow", queues=("slow",))) == {}


def test_an_inline_pool_runs_one_task_per_process() -> None:
    with pytest.raises(TopologyError, match="scale it with replicas"):
        PoolSpec("fast", queues=("fast",), kind="inline", concurrency=4)


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_child_returns_what_the_task_returned() -> None:
    assert run_in_child(sum, ([1, 2, 3],), {}, name="t", soft_limit_s=5, hard_limit_s=10) == 6


def test_a_child_killed_mid_task_is_a_lost_worker_and_the_parent_lives() -> None:
    with pytest.raises(WorkerLostError, match="SIGKILL"):
        run_in_child(_kill_self, (), {}, name="t", soft_limit_s=5, hard_limit_s=10)


def test_a_child_enforces_the_time_limits() -> None:
    outcome = run_in_child(_limited, (), {}, name="t", soft_limit_s=0.3, hard_limit_s=5)
    assert outcome == "soft limit"


def _limited() -> str:
    try:
        _busy(3)
    except SoftTimeLimitExceeded:
        return "soft limit"
    return "ran out the clock"
