"""What one exec probe costs a pod: CPU seconds and peak memory per call.

Kubernetes runs a worker pod's liveness and readiness probes every few seconds, each a new
process. The cost is read from the kernel's accounting of each finished child (`os.wait4`:
user + system CPU time and peak RSS), not from wall time, so a busy machine slows the calls
but does not inflate the figures. The probe runs against a fresh live and ready health
directory, so it takes the path a healthy pod takes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from execution.health_files import HealthFiles
from ops.bench import child_cost
from ops.probe import HEALTH_DIR_VARIABLE

PROBE_SCRIPT = "switchyard-health"


@dataclass(frozen=True)
class ProbeCost:
    """Per-call figures over `calls` runs of `argv`."""

    argv: tuple[str, ...]
    calls: int
    cpu_ms: tuple[float, ...]
    max_rss_kib: tuple[int, ...]
    exit_codes: tuple[int, ...]
    floor_kib: int = 0

    @property
    def cpu_ms_median(self) -> float:
        return statistics.median(self.cpu_ms)

    @property
    def cpu_ms_max(self) -> float:
        return max(self.cpu_ms)

    @property
    def rss_mib_median(self) -> float:
        return statistics.median(self.max_rss_kib) / 1024

    @property
    def rss_mib_max(self) -> float:
        return max(self.max_rss_kib) / 1024

    def lines(self) -> list[str]:
        return [
            f"command      {' '.join(self.argv)}",
            f"calls        {self.calls} (exit codes {sorted(set(self.exit_codes))})",
            f"CPU / call   median {self.cpu_ms_median:.0f} ms, max {self.cpu_ms_max:.0f} ms "
            "(user + system)",
            f"RSS / call   median {self.rss_mib_median:.1f} MiB, max {self.rss_mib_max:.1f} MiB "
            f"(peak resident set; floor {self.floor_kib / 1024:.1f} MiB, the measuring parent)",
        ]


def default_probe_argv() -> list[str]:
    """The probe as a pod runs it: the console script next to this interpreter."""
    return [str(Path(sys.executable).with_name(PROBE_SCRIPT)), "--ready", "--max-age", "120"]


def measure(argv: Sequence[str], calls: int) -> ProbeCost:
    """Run `argv` `calls` times, one after the other, against a live and ready directory.

    The calls are started by a fresh interpreter without `site` (`ops.bench.child_cost`),
    not by this process with Celery loaded: Linux counts the parent's resident set at
    `exec` in a child's peak RSS. That parent's own size is the `floor_kib` of the figures
    (measured as the peak RSS of `true`); a Python probe always peaks above it.
    """
    with tempfile.TemporaryDirectory(prefix="probe-cost-") as directory:
        files = HealthFiles(directory)
        files.touch_live()
        files.mark_ready()
        env = {**os.environ, HEALTH_DIR_VARIABLE: directory}
        floor = _calls(["true"], 1, files.live, env)
        rows = _calls(argv, calls, files.live, env)
    return ProbeCost(
        tuple(argv),
        calls,
        tuple(r["cpu_ms"] for r in rows),
        tuple(int(r["max_rss_kib"]) for r in rows),
        tuple(int(r["exit_code"]) for r in rows),
        floor_kib=int(floor[0]["max_rss_kib"]),
    )


def _calls(
    argv: Sequence[str], calls: int, touch: str, env: dict[str, str]
) -> list[dict[str, float]]:
    measuring = [sys.executable, "-I", "-S", child_cost.__file__]
    done = subprocess.run(
        [*measuring, json.dumps(list(argv)), str(calls), touch],
        env=env,
        capture_output=True,
        text=True,
        timeout=60 + 30 * calls,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]
