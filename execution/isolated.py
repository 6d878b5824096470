"""Run one task in a forked child, for the inline pool's suspect messages.

A message the broker delivers again (its consumer died holding it) or that comes back with
a worker-loss count may be the task that killed the last process. Run inline, it would kill
this one too, and every message this process holds would be delivered again with it. In a
child, a crash costs the child only: the parent reports it as a lost worker, and
`deadletter.request` requeues the message with its loss counted, or dead-letters it on the
third loss, as it does for a prefork child. Only suspects pay for the fork.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable
from typing import Any

from billiard.exceptions import WorkerLostError

from compat import run_after_forkers
from execution.guard import TaskGuard


def run_in_child(
    target: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    name: str,
    soft_limit_s: float | None,
    hard_limit_s: float | None,
) -> Any:
    """`target(*args, **kwargs)` in a forked child under its own guard; its return value.

    Raises:
        WorkerLostError: the child died (a signal, or the guard ending it after a hard
            time limit it ignored) or exited without a result.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run, write the outcome, leave without any cleanup
        os.close(read_end)
        code = 1
        try:
            # Celery and kombu drop the parent's broker connection pools here, as in a
            # prefork child: a publish from the task opens the child's own connection.
            run_after_forkers()
            guard = TaskGuard()
            guard.start()
            with guard.running(name, soft_limit_s, hard_limit_s):
                outcome = target(*args, **kwargs)
            with os.fdopen(write_end, "wb") as out:
                # The parent is this process's own fork, as in Celery's prefork pool.
                pickle.dump(outcome, out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    except BaseException:
        os.kill(pid, signal.SIGKILL)  # interrupted (the broker connection was lost)
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        raise WorkerLostError(
            f"Worker exited prematurely: signal {os.WTERMSIG(status)} "
            f"({signal.Signals(os.WTERMSIG(status)).name}) running {name}"
        )
    if not data:
        raise WorkerLostError(
            f"Worker exited prematurely: exitcode {os.WEXITSTATUS(status)} running {name}"
        )
    return pickle.loads(data)  # noqa: S301 - written by this process's own child
