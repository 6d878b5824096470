"""Celery's threads pool, with time limits.

Celery's threads pool ignores `soft_time_limit` and `time_limit`: a task declared hard 30 s
that pauses 40 s returns SUCCESS after 40 s. Signals, which the prefork and inline pools
use to interrupt a task, reach only the main thread. Here one watchdog thread keeps, for
each running task, its thread and its limits, and at a limit raises an exception *in the
task's thread* (`PyThreadState_SetAsyncExc`, CPython's public C API):

- soft limit: `SoftTimeLimitExceeded`, which the task may catch to clean up, as in prefork;
- hard limit: the pool reports the task as prefork does when it kills a child: FAILURE with
  `TimeLimitExceeded(<limit>)`, the message acknowledged (`task_acks_on_failure_or_timeout`),
  the failure hooks run; and `HardTimeLimitKill`, a BaseException no `except Exception`
  swallows, ends the thread. Whatever the thread does after its hard limit is never reported.

An exception raised in a thread lands at its next Python instruction: a thread blocked in
one C call (a `time.sleep`, a read without timeout) is interrupted only when the call
returns. The task's outcome is still settled at its hard limit; the thread's slot is
busy until the call returns (a call still running `grace_s` later is logged as critical).

The watchdog arms a task in `task_prerun` and disarms it in `task_postrun`, both sent in the
task's own thread around the task body, so nothing is ever raised in the pool's own code.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from billiard.exceptions import SoftTimeLimitExceeded
from celery import signals
from celery.concurrency.thread import TaskPool as ThreadTaskPool

logger = logging.getLogger(__name__)

TICK_S = 0.1
WEDGED_GRACE_S = 10.0


class HardTimeLimitKill(BaseException):
    """Raised in a task's thread at its hard time limit; its outcome is already reported."""


def raise_in_thread(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Make `exc_type` raise in the thread at its next instruction; None cancels one that
    has not been raised yet."""
    target = ctypes.py_object(exc_type) if exc_type is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


@dataclass
class _Job:
    task_id: str
    soft_s: float | None
    hard_s: float | None
    timeout_callback: Any
    thread_id: int = 0
    started: float = 0.0
    running: bool = False
    soft_sent: bool = False
    hard_sent: bool = False
    wedge_logged: bool = False


class Watchdog:
    """Time limits for tasks running in the pool's threads; one thread for all of them."""

    def __init__(self, tick_s: float = TICK_S, grace_s: float = WEDGED_GRACE_S) -> None:
        self._tick_s = tick_s
        self._grace_s = grace_s
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        signals.task_prerun.connect(self._arm, weak=False)
        signals.task_postrun.connect(self._disarm, weak=False)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="time-limits", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        signals.task_prerun.disconnect(self._arm)
        signals.task_postrun.disconnect(self._disarm)
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def expect(self, job: _Job) -> None:
        """A task handed to the pool; its clock starts when its thread begins the body."""
        with self._lock:
            self._jobs[job.task_id] = job

    def reported_hard_limit(self, task_id: str) -> bool:
        """Forget the task; True when the watchdog already reported its hard limit, so the
        thread's own outcome must be dropped."""
        with self._lock:
            job = self._jobs.pop(task_id, None)
        return job is not None and job.hard_sent

    def _arm(self, task_id: str | None = None, **_: Any) -> None:
        with self._lock:
            job = self._jobs.get(task_id or "")
            if job is not None:
                job.thread_id = threading.get_ident()
                job.started = time.monotonic()
                job.running = True

    def _disarm(self, task_id: str | None = None, **_: Any) -> None:
        with self._lock:
            job = self._jobs.get(task_id or "")
            if job is not None and job.running and job.thread_id == threading.get_ident():
                job.running = False
                raise_in_thread(job.thread_id, None)  # one sent but not yet raised

    def _run(self) -> None:
        while not self._stopped.wait(self._tick_s):
            try:
                self._check(time.monotonic())
            except Exception:  # the watchdog must outlive anything it runs into
                logger.exception("time-limit watchdog check failed")

    def _check(self, now: float) -> None:
        hard_reached = []
        with self._lock:
            for job in self._jobs.values():
                if not job.running:
                    continue
                elapsed = now - job.started
                if job.hard_s and elapsed >= job.hard_s and not job.hard_sent:
                    job.hard_sent = True
                    raise_in_thread(job.thread_id, HardTimeLimitKill)
                    hard_reached.append(job)
                elif job.soft_s and elapsed >= job.soft_s and not job.soft_sent:
                    job.soft_sent = True
                    raise_in_thread(job.thread_id, SoftTimeLimitExceeded)
                    if job.timeout_callback is not None:
                        job.timeout_callback(True, job.soft_s)  # logs the warning
                elif (
                    job.hard_sent
                    and job.hard_s
                    and elapsed >= job.hard_s + self._grace_s
                    and not job.wedge_logged
                ):
                    job.wedge_logged = True
                    logger.critical(
                        "task %s is still in one call %.0f s after its hard time limit; "
                        "its thread is busy until the call returns",
                        job.task_id,
                        self._grace_s,
                    )
        for job in hard_reached:  # outside the lock: it writes the result and acks
            if job.timeout_callback is not None:
                job.timeout_callback(False, job.hard_s)


class GuardedThreadPool(ThreadTaskPool):
    """Celery's threads pool plus `Watchdog`; selected by `--pool custom`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watchdog = Watchdog()

    def on_start(self) -> None:
        super().on_start()
        self.watchdog.start()

    def on_stop(self) -> None:
        self.watchdog.stop()
        super().on_stop()

    def on_apply(
        self,
        target: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Any = None,
        accept_callback: Any = None,
        **options: Any,
    ) -> Any:
        task_id = str(options.get("correlation_id") or "")
        self.watchdog.expect(
            _Job(
                task_id=task_id,
                soft_s=options.get("soft_timeout") or self.options.get("soft_timeout"),
                hard_s=options.get("timeout") or self.options.get("timeout"),
                timeout_callback=options.get("timeout_callback"),
            )
        )

        def report(outcome: Any) -> None:
            if not self.watchdog.reported_hard_limit(task_id) and callback is not None:
                callback(outcome)

        return super().on_apply(target, args, kwargs, report, accept_callback)
