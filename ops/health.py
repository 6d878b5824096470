"""Beat's liveness file: a scheduler that proves each tick, so beat's probe never calls the broker.

Beat's scheduler touches `<health_dir>/live` after each tick (at least every
`--max-interval`), so a beat hung in a publish or a lost connection is restarted instead of
silently sending nothing. The worker's side of the same files is the consumer bootstep in
`execution.health_step`; the probe that reads them is `ops.probe` (`switchyard-health`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.beat import PersistentScheduler

from config.settings import get_settings
from execution.health_files import HealthFiles

logger = logging.getLogger(__name__)


class HealthFileScheduler(PersistentScheduler):
    """Celery's file-backed scheduler that proves each tick: `celery beat --scheduler`.

    `tick()` sends what is due and returns how long to sleep; the file is touched only
    after it returns, so a tick stuck on the broker ages the file.
    """

    def setup_schedule(self) -> None:
        self.health = HealthFiles(get_settings().health_dir)
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
