"""Run a command N times and print each run's CPU time and peak RSS as JSON lines.

`python -I -S child_cost.py '<argv as JSON>' N [FILE]`, FILE touched before each run. Kept
to `os`, `sys` and `json` and run as a script without `site`: Linux counts the parent's
resident set at `exec` in a child's peak RSS, so the parent must be the smallest
interpreter there is (see `ops.bench.probe_cost`).
"""

from __future__ import annotations

import json
import os
import sys


def run(argv: list[str], calls: int, touch: str | None = None) -> list[dict[str, float]]:
    """Per call: CPU ms (user + system) and peak RSS in KiB of the finished child, exit code.

    `touch`, when given, is a file whose times are set to now before each call (the
    liveness file a probe reads, kept fresh however slow the calls).
    """
    quiet = [
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    rows: list[dict[str, float]] = []
    for _ in range(calls):
        if touch is not None:
            os.utime(touch)
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
    touched = sys.argv[3] if len(sys.argv) > 3 else None
    for row in run(json.loads(sys.argv[1]), int(sys.argv[2]), touched):
        print(json.dumps(row))
