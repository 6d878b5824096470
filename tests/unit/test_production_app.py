"""The app production workers load registers production tasks only.

Each check loads `config.app` in a fresh interpreter with a clean environment, as
`celery --app config.app:app worker` does in a pod: no probe, fault or benchmark task is
registered unless `SWITCHYARD_EXTRA_TASK_MODULES` names its module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from config.settings import ENV_PREFIX, EXTRA_TASK_MODULES_ENV, Settings
from routing.declaration import TOPOLOGY
from routing.worker_command import CELERY_APP
from tests.tasks import TEST_TASK_MODULES
from tests.unit.clean_process import run_without_settings

PRODUCTION_TASKS = [
    "tasks.analytics.analyze_chunk",
    "tasks.analytics.extract_record",
    "tasks.analytics.generate_summary",
    "tasks.demo.add",
    "tasks.external.call_external_rate_limited_api",
    "tasks.inventory.sync_inventory_webhook",
    "tasks.maintenance.execute_db_maintenance",
    "tasks.media.process_video_transcode",
]

_LOAD = """
import importlib, json, sys
module, name = sys.argv[1].split(":")
app = getattr(importlib.import_module(module), name)
app.loader.import_default_modules()  # what a worker imports before it consumes
print(json.dumps(sorted(n for n in app.tasks if not n.startswith("celery."))))
"""


def _registered(tmp_path: Path, **settings: str) -> list[str]:
    """Task names the worker's app registers, with only `settings` (and the URLs) set."""
    done = run_without_settings(
        [sys.executable, "-c", _LOAD, CELERY_APP],
        tmp_path,
        BROKER_URL="amqp://user:pass@127.0.0.1:1/vhost",
        DATABASE_URL="postgresql://user:pass@127.0.0.1:1/db",
        **settings,
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout)
    return names


def test_the_production_app_registers_production_tasks_only(tmp_path: Path) -> None:
    assert _registered(tmp_path) == PRODUCTION_TASKS
    assert {name.rsplit(".", 1)[0] for name in PRODUCTION_TASKS} == set(TOPOLOGY.task_modules)


def test_extra_task_modules_register_the_test_tasks(tmp_path: Path) -> None:
    """The setting tests, `bench` and `chaos` use; and proof the check above can see them."""
    setting = EXTRA_TASK_MODULES_ENV.removeprefix(ENV_PREFIX)
    names = _registered(tmp_path, **{setting: ",".join(TEST_TASK_MODULES)})
    assert set(PRODUCTION_TASKS) < set(names)
    extra = sorted(set(names) - set(PRODUCTION_TASKS))
    assert "tests.tasks.faults.kill_own_worker_process" in extra
    assert "ops.chaos.tasks.apply_effect" in extra
    assert "ops.bench.tasks.noop" in extra
    assert {name.rsplit(".", 1)[0] for name in extra} == set(TEST_TASK_MODULES)


def test_the_variable_is_the_settings_field() -> None:
    field = EXTRA_TASK_MODULES_ENV.removeprefix(ENV_PREFIX).lower()
    assert field in Settings.model_fields
    settings = Settings(_env_file=None, extra_task_modules=" a.b , ,c ")
    assert settings.extra_task_module_names() == ("a.b", "c")
