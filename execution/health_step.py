"""The consumer bootstep that keeps a worker's health files fresh, so probes never call the broker.

It touches `<health_dir>/live` every `health_interval_s` seconds from the consumer's own
timer: when the event loop hangs, or the connection is gone and the worker is stuck
reconnecting, the file ages and the liveness probe fails. `<health_dir>/ready` exists while
the consumer is consuming. The probe (`ops.probe`) reads both: one `stat`, not one broker
round trip per pod every few seconds.

The directory and interval come from the app's configuration (`HEALTH_DIR_KEY`,
`HEALTH_INTERVAL_KEY`), which `config.app` fills from the settings: this layer reads none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Celery, bootsteps

from execution.health_files import DEFAULT_HEALTH_DIR, DEFAULT_HEALTH_INTERVAL_S, HealthFiles

logger = logging.getLogger(__name__)

HEALTH_DIR_KEY = "switchyard_health_dir"
HEALTH_INTERVAL_KEY = "switchyard_health_interval_s"


class HealthFileStep(bootsteps.StartStopStep):
    """Consumer bootstep: started once the task consumer consumes, stopped when it stops.

    Celery stops and restarts the consumer's steps around a lost broker connection, so the
    ready file disappears while the worker reconnects and comes back when it consumes again.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        conf = parent.app.conf
        self.files = HealthFiles(conf.get(HEALTH_DIR_KEY) or DEFAULT_HEALTH_DIR)
        self.interval_s = float(conf.get(HEALTH_INTERVAL_KEY) or DEFAULT_HEALTH_INTERVAL_S)
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
