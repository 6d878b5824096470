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
            "(peak resident set)",
        ]


def default_probe_argv() -> list[str]:
    """The probe as a pod runs it: the console script next to this interpreter."""
    return [str(Path(sys.executable).with_name(PROBE_SCRIPT)), "--ready", "--max-age", "120"]


def measure(argv: Sequence[str], calls: int) -> ProbeCost:
    """Run `argv` `calls` times, one after the other, against a live and ready directory.

    The calls are started by a fresh, small interpreter (`ops.bench.child_cost`), not by
    this process with Celery loaded: Linux counts the parent's resident set at `exec` in a
    child's peak RSS.
    """
    with tempfile.TemporaryDirectory(prefix="probe-cost-") as directory:
        files = HealthFiles(Path(directory))
        files.touch_live()
        files.mark_ready()
        done = subprocess.run(
            [sys.executable, "-m", child_cost.__name__, json.dumps(list(argv)), str(calls)],
            env={**os.environ, HEALTH_DIR_VARIABLE: directory},
            capture_output=True,
            text=True,
            timeout=60 + 30 * calls,
            check=True,
        )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return ProbeCost(
        tuple(argv),
        calls,
        tuple(r["cpu_ms"] for r in rows),
        tuple(r["max_rss_kib"] for r in rows),
        tuple(r["exit_code"] for r in rows),
    )
