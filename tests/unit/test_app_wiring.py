"""`config.app` hands the worker's health step and metrics endpoint their settings.

`execution/` and `metrics/` read no settings themselves (they sit below `config`); the app's
configuration carries the values, and these tests check both ends of that hand-over.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import Celery

from config.app import celery_settings
from config.settings import Settings
from execution.health_step import HEALTH_DIR_KEY, HEALTH_INTERVAL_KEY, HealthFileStep
from metrics import worker
from metrics.exposition import MULTIPROC_ENV
from metrics.worker import METRICS_ADDRESS_KEY


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        broker_url="amqp://u:p@127.0.0.1:1/v",
        database_url="postgresql://u:p@127.0.0.1:1/d",
        health_dir=str(tmp_path / "health"),
        health_interval_s=3.5,
        metrics_host="127.0.0.1",
        metrics_port=0,
    )


def test_the_app_configuration_carries_the_settings(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    conf = celery_settings(settings)
    assert conf[HEALTH_DIR_KEY] == settings.health_dir
    assert conf[HEALTH_INTERVAL_KEY] == 3.5
    assert conf[METRICS_ADDRESS_KEY] == ("127.0.0.1", 0)
    assert conf["imports"] == ()


def test_the_health_step_reads_the_app_configuration(tmp_path: Path) -> None:
    app = Celery(set_as_current=False)
    app.conf.update(celery_settings(_settings(tmp_path)))
    step = HealthFileStep(SimpleNamespace(app=app))
    assert step.files.directory == str(tmp_path / "health")
    assert step.interval_s == 3.5


def test_an_app_without_a_metrics_address_serves_nothing(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)  # no directory of the caller's is emptied
    monkeypatch.setattr(worker, "serve_metrics", lambda host, port: served.append((host, port)))
    with caplog.at_level(logging.WARNING, logger=worker.__name__):
        worker.on_beat_init(sender=SimpleNamespace(app=Celery(set_as_current=False)))
    assert served == []
    assert METRICS_ADDRESS_KEY in caplog.text
    wired = Celery(set_as_current=False)
    wired.conf.update({METRICS_ADDRESS_KEY: ("127.0.0.1", 0)})
    worker.on_beat_init(sender=SimpleNamespace(app=wired))
    assert served == [("127.0.0.1", 0)]
