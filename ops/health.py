"""Worker liveness and readiness as files, so that probes never call the broker.

A consumer bootstep touches `<health_dir>/live` every `health_interval_s` seconds from the
consumer's own timer: when the event loop hangs, or the connection is gone and the worker is
stuck reconnecting, the file ages and the liveness probe fails. Beat's scheduler touches the
same file after each tick (at least every `--max-interval`), so a beat hung in a publish or
a lost connection is restarted instead of silently sending nothing. `<health_dir>/ready` exists
while the consumer is consuming. `switchyard health` reads both; a probe costs one `stat`,
not one broker round trip per pod every few seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery, bootsteps
from celery.beat import PersistentScheduler

from config.settings import get_settings

logger = logging.getLogger(__name__)

LIVE_FILE = "live"
READY_FILE = "ready"


@dataclass(frozen=True)
class HealthFiles:
    """The two files of one worker, in one directory (an emptyDir in a pod)."""

    directory: Path

    @property
    def live(self) -> Path:
        return self.directory / LIVE_FILE

    @property
    def ready(self) -> Path:
        return self.directory / READY_FILE

    def touch_live(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.live.touch()

    def mark_ready(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ready.touch()

    def mark_not_ready(self) -> None:
        self.ready.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget a previous run: an emptyDir outlives a restarted container."""
        self.live.unlink(missing_ok=True)
        self.ready.unlink(missing_ok=True)

    def problem(self, max_age_s: float, *, need_ready: bool) -> str | None:
        """Why the worker is not healthy, or None when it is."""
        try:
            age = time.time() - self.live.stat().st_mtime
        except FileNotFoundError:
            return f"{self.live} missing: the worker is not consuming (yet)"
        except OSError as exc:
            return f"{self.live} unreadable: {exc.strerror}"
        if age > max_age_s:
            return f"{self.live} last touched {age:.0f}s ago (limit {max_age_s:.0f}s)"
        if need_ready and not self.ready.exists():
            return f"{self.ready} missing: the consumer is not consuming"
        return None


class HealthFileStep(bootsteps.StartStopStep):
    """Consumer bootstep: started once the task consumer consumes, stopped when it stops.

    Celery stops and restarts the consumer's steps around a lost broker connection, so the
    ready file disappears while the worker reconnects and comes back when it consumes again.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        settings = get_settings()
        self.files = HealthFiles(Path(settings.health_dir))
        self.interval_s = settings.health_interval_s
        self._timer_entry: Any = None
        self._safely(self.files.clear)

    def start(self, parent: Any) -> None:
        self._safely(self.files.touch_live)
        self._safely(self.files.mark_ready)
        self._timer_entry = parent.timer.call_repeatedly(
            self.interval_s, self._safely, (self.files.touch_live,)
        )

    def stop(self, parent: Any) -> None:
        if self._timer_entry is not None:
            parent.timer.cancel(self._timer_entry)
            self._timer_entry = None
        self._safely(self.files.mark_not_ready)

    def shutdown(self, parent: Any) -> None:
        self.stop(parent)
        self._safely(self.files.clear)

    def _safely(self, action: Callable[[], None]) -> None:
        """A file that cannot be written fails the probe, not the worker."""
        try:
            action()
        except OSError as exc:
            logger.warning("health file in %s: %s", self.files.directory, exc)


def install_health_files(app: Celery) -> None:
    """Add the step to every worker of `app`; beat and producers are unaffected."""
    app.steps["consumer"].add(HealthFileStep)


class HealthFileScheduler(PersistentScheduler):
    """Celery's file-backed scheduler that proves each tick: `celery beat --scheduler`.

    `tick()` sends what is due and returns how long to sleep; the file is touched only
    after it returns, so a tick stuck on the broker ages the file.
    """

    def setup_schedule(self) -> None:
        self.health = HealthFiles(Path(get_settings().health_dir))
        _touch_safely(self.health.clear)
        super().setup_schedule()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval: float = super().tick(*args, **kwargs)
        _touch_safely(self.health.touch_live)
        return interval


def _touch_safely(action: Callable[[], None]) -> None:
    try:
        action()
    except OSError as exc:
        logger.warning("beat health file: %s", exc)
