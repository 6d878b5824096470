"""Serving /metrics from a worker group or beat, safely under the prefork pool.

Every process of a worker group writes its values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode); the main process serves their sum. The directory
is emptied when the group starts, so a restarted container does not resurrect old counts,
and the live gauges of children that died (even by SIGKILL) are dropped at every scrape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

logger = logging.getLogger(__name__)


def multiprocess_dir() -> Path | None:
    """The multiprocess directory this process writes to, when multiprocess mode is on."""
    configured = os.environ.get(MULTIPROC_ENV)
    return Path(configured) if configured else None


def clean_multiprocess_dir() -> None:
    """Empty the directory before any process of the group has written to it."""
    path = multiprocess_dir()
    if path is None:
        return
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def reap_dead_processes(path: Path) -> list[int]:
    """Mark processes dead whose live-gauge files remain; return their pids."""
    pids = {pid for pid in map(_pid_of, path.glob("gauge_live*_*.db")) if pid is not None}
    reaped = [pid for pid in sorted(pids) if not _alive(pid)]
    for pid in reaped:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return reaped


class _ReapingCollector(MultiProcessCollector):
    """The multiprocess sum, after dropping the live gauges of dead processes."""

    def collect(self) -> Iterable[Metric]:
        reap_dead_processes(Path(self._path))
        metrics: Iterable[Metric] = super().collect()  # type: ignore[no-untyped-call]
        return metrics


def metrics_registry() -> CollectorRegistry:
    """What this process serves: the group's sum in multiprocess mode, else its own metrics."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    _ReapingCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return registry


def serve_metrics(host: str, port: int) -> bool:
    """Serve /metrics on host:port in a daemon thread; False when it cannot.

    A taken port is logged, not raised: the worker's tasks matter more than its metrics,
    and Prometheus shows the missing target.
    """
    if port == 0:
        return False
    try:
        start_http_server(port, addr=host, registry=metrics_registry())
    except OSError as exc:
        logger.error("metrics not served on %s:%s: %s", host, port, exc)
        return False
    logger.info("metrics served on http://%s:%s/metrics", host, port)
    return True


def _pid_of(path: Path) -> int | None:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
