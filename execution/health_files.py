"""A worker's liveness and readiness files; `os` and `time` only.

The worker's consumer keeps them fresh (`execution.health_step`); the pods' exec probe reads
them every few seconds (`ops.probe`), a new interpreter each time, so this module imports
nothing it can do without: no Celery or pydantic, and not even `pathlib` or `dataclasses`,
which cost the probe more CPU than its whole check.
"""

from __future__ import annotations

import os
import time

LIVE_FILE = "live"
READY_FILE = "ready"
DEFAULT_HEALTH_DIR = "/tmp/switchyard-health"  # noqa: S108 - an emptyDir in a pod
DEFAULT_HEALTH_INTERVAL_S = 10.0


class HealthFiles:
    """The two files of one worker, in one directory (an emptyDir in a pod)."""

    __slots__ = ("directory",)

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)

    @property
    def live(self) -> str:
        return os.path.join(self.directory, LIVE_FILE)

    @property
    def ready(self) -> str:
        return os.path.join(self.directory, READY_FILE)

    def touch_live(self) -> None:
        self._touch(self.live)

    def mark_ready(self) -> None:
        self._touch(self.ready)

    def mark_not_ready(self) -> None:
        _unlink(self.ready)

    def clear(self) -> None:
        """Forget a previous run: an emptyDir outlives a restarted container."""
        _unlink(self.live)
        _unlink(self.ready)

    def problem(self, max_age_s: float, *, need_ready: bool) -> str | None:
        """Why the worker is not healthy, or None when it is."""
        try:
            age = time.time() - os.stat(self.live).st_mtime
        except FileNotFoundError:
            return f"{self.live} missing: the worker is not consuming (yet)"
        except OSError as exc:
            return f"{self.live} unreadable: {exc.strerror}"
        if age > max_age_s:
            return f"{self.live} last touched {age:.0f}s ago (limit {max_age_s:.0f}s)"
        if need_ready and not os.path.exists(self.ready):
            return f"{self.ready} missing: the consumer is not consuming"
        return None

    def _touch(self, path: str) -> None:
        os.makedirs(self.directory, exist_ok=True)
        with open(path, "a"):
            os.utime(path)


def _unlink(path: str) -> None:
    try:  # noqa: SIM105 - contextlib.suppress would import contextlib into the probe
        os.unlink(path)
    except FileNotFoundError:
        pass
