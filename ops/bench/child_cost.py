"""Run a command N times and print each run's CPU time and peak RSS as JSON lines.

`python -m ops.bench.child_cost '<argv as JSON>' N`. Kept to `os`, `sys` and `json`: Linux
counts the parent's resident set at `exec` in a child's peak RSS, so the parent must be the
smallest interpreter there is (see `ops.bench.probe_cost`).
"""

from __future__ import annotations

import json
import os
import sys


def run(argv: list[str], calls: int) -> list[dict[str, float]]:
    """Per call: CPU ms (user + system) and peak RSS in KiB of the finished child, exit code."""
    quiet = [
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    rows: list[dict[str, float]] = []
    for _ in range(calls):
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=quiet)
        _, status, usage = os.wait4(pid, 0)
        rows.append(
            {
                "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
                "max_rss_kib": usage.ru_maxrss,  # KiB on Linux
                "exit_code": os.waitstatus_to_exitcode(status),
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(json.loads(sys.argv[1]), int(sys.argv[2])):
        print(json.dumps(row))
