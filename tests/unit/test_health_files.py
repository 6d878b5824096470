"""The probe's verdict on the health files, without a worker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from kombu.asynchronous.timer import Timer

from config.settings import get_settings
from execution.health_files import HealthFiles
from execution.health_step import HEALTH_DIR_KEY, HEALTH_INTERVAL_KEY, HealthFileStep
from ops.cli import main


def test_fresh_live_file_is_live_but_not_ready(tmp_path: Path) -> None:
    files = HealthFiles(tmp_path)
    files.touch_live()
    assert files.problem(30, need_ready=False) is None
    assert "ready missing" in (files.problem(30, need_ready=True) or "")
    files.mark_ready()
    assert files.problem(30, need_ready=True) is None


def test_stale_live_file_fails_with_its_age(tmp_path: Path) -> None:
    files = HealthFiles(tmp_path)
    files.touch_live()
    files.mark_ready()
    old = time.time() - 300
    os.utime(files.live, (old, old))
    problem = files.problem(120, need_ready=True)
    assert problem is not None
    assert "last touched 300s ago (limit 120s)" in problem


def test_cli_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_HEALTH_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(["health"]) == 1
        HealthFiles(tmp_path).touch_live()
        assert main(["health", "--max-age", "60"]) == 0
        assert main(["health", "--ready"]) == 1
    finally:
        get_settings.cache_clear()


def test_an_unwritable_health_dir_fails_the_probe_not_the_worker(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    conf = {HEALTH_DIR_KEY: str(blocker / "health"), HEALTH_INTERVAL_KEY: 5.0}
    consumer = SimpleNamespace(timer=Timer(), app=SimpleNamespace(conf=conf))
    step = HealthFileStep(consumer)
    step.start(consumer)  # logs instead of raising
    assert len(consumer.timer.queue) == 1
    step.shutdown(consumer)
    assert all(item.entry.canceled for item in consumer.timer.queue)
    assert step.files.problem(60, need_ready=False) is not None


def test_beat_scheduler_touches_its_live_file_on_every_tick(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file a beat probe reads is fresh only while the scheduler ticks."""
    from celery import Celery

    from ops.health import HealthFileScheduler

    monkeypatch.setenv("SWITCHYARD_HEALTH_DIR", str(tmp_path / "health"))
    get_settings.cache_clear()
    app = Celery("beat-test", set_as_current=False)
    app.conf.beat_schedule = {}
    files = HealthFiles(tmp_path / "health")
    files.touch_live()
    try:
        scheduler = HealthFileScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
        assert not os.path.exists(files.live), "a previous run's file is cleared at start"
        scheduler.tick()
        assert files.problem(60, need_ready=False) is None
        old = time.time() - 300
        os.utime(files.live, (old, old))
        assert files.problem(120, need_ready=False) is not None
        scheduler.tick()
        assert files.problem(120, need_ready=False) is None
        scheduler.close()
    finally:
        get_settings.cache_clear()
