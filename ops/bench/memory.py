"""Peak resident memory (and CPU time) of a worker group: the main process and all its
children, summed.

Sampled from /proc in a background thread, because a prefork pool's children come and go
(`--max-tasks-per-child`) and the peak is what a pod's memory limit must hold.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

SAMPLE_INTERVAL_S = 0.2
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_sum(root_pid: int, read: Callable[[Path, list[str]], int]) -> int:
    """`read(proc_dir, stat_fields)` summed over `root_pid` and every descendant; 0 when
    it is gone. `stat_fields` are /proc/<pid>/stat's fields after the command name."""
    children: dict[int, list[int]] = {}
    values: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            value = read(entry, fields)
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        values[pid] = value
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += values.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def tree_rss_bytes(root_pid: int) -> int:
    """Resident bytes of `root_pid` and every descendant; 0 when it is gone."""
    return (
        tree_sum(root_pid, lambda entry, _: int((entry / "statm").read_text().split()[1]))
        * PAGE_BYTES
    )


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of `root_pid` and every live descendant."""
    # stat fields after the name: state ppid ... utime is the 12th, stime the 13th (0-based 11, 12)
    return tree_sum(root_pid, lambda _, fields: int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class PeakMemory:
    """The largest `tree_rss_bytes` seen since the last `reset()`, while running."""

    def __init__(self, root_pids: list[int]) -> None:
        self.root_pids = root_pids
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        self._peak = 0

    @property
    def peak_mib(self) -> float:
        return max(self._peak, self._now()) / 2**20

    def _now(self) -> int:
        return sum(tree_rss_bytes(pid) for pid in self.root_pids)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL_S):
            self._peak = max(self._peak, self._now())
