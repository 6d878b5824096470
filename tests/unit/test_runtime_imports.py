"""Workers and producers run without SQLAlchemy or Alembic: only `switchyard db migrate` loads them.

Each probe runs in a fresh interpreter, imports what a worker or a producer imports, builds the
selected result backend, and lists the migration libraries it finds loaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.unit.clean_process import run_without_settings

PROBE = """
import json, sys
from config.app import app
app.loader.import_default_modules()  # every task module, as a worker loads them
import celery.apps.worker, celery.worker.consumer, execution.inline_pool, ops.cli
backend = app.backend
for name in sys.argv[1:]:
    __import__(name)
loaded = {m.split(".")[0] for m in sys.modules}
print(json.dumps([type(backend).__name__, sorted(loaded & {"sqlalchemy", "alembic"})]))
"""


def _probe(tmp_path: Path, *imports: str, result_backend: str = "switchyard") -> list[object]:
    done = run_without_settings(
        [sys.executable, "-c", PROBE, *imports],
        tmp_path,
        BROKER_URL="amqp://app:secret@127.0.0.1:1//",
        DATABASE_URL="postgresql://app:secret@127.0.0.1:1/switchyard",
        RESULT_BACKEND=result_backend,
    )
    assert done.returncode == 0, done.stderr
    found: list[object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_worker_and_producer_load_no_migration_library(tmp_path: Path) -> None:
    runtime = ("results.backend", "results.store", "results.chords", "results.retention")
    assert _probe(tmp_path, *runtime) == ["SwitchyardBackend", []]


@pytest.mark.parametrize(
    ("imports", "result_backend", "expected"),
    [
        (("results.migration",), "switchyard", ["SwitchyardBackend", ["alembic", "sqlalchemy"]]),
        ((), "stock", ["DatabaseBackend", ["sqlalchemy"]]),  # Celery's backend is SQLAlchemy
    ],
)
def test_the_probe_sees_a_migration_library_when_one_is_loaded(
    tmp_path: Path, imports: tuple[str, ...], result_backend: str, expected: list[object]
) -> None:
    assert _probe(tmp_path, *imports, result_backend=result_backend) == expected
