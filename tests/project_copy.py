"""A copy of the project, as a new user's clone, and the docs' add-a-queue edit applied to it.

docs/adding-a-queue.md is performed on such a copy (tests/unit/test_apply_files.py for the
generated files, tests/integration/test_adding_a_queue.py for all of it), so the steps are
checked as written and this checkout is never edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import project_root

QUEUE = POOL = "thumbnails"
TASK = "tasks.thumbnails.make_thumbnail"
TASK_MODULE = """from config.app import app


@app.task
def make_thumbnail(name: str) -> str:
    return f"thumbnails/{name}.png"
"""
# The three entries of the doc's step 2, each added to its tuple of the declaration.
ENTRIES = {
    "\n    queues=(\n": '        QueueSpec("thumbnails", description="thumbnail rendering"),\n',
    "\n    routes=(\n": '        Route("tasks.thumbnails.*", "thumbnails"),\n',
    "\n    pools=(\n": '        PoolSpec("thumbnails", queues=("thumbnails",), concurrency=2),\n',
}
SKIPPED = shutil.ignore_patterns(
    ".git", ".venv", ".stack", ".tools", "__pycache__", ".*_cache", "*.egg-info"
)
COMMAND_TIMEOUT_S = 120


def copy_project(target: Path) -> Path:
    """The project's sources (no virtualenv, stack or caches) copied to `target`."""
    shutil.copytree(project_root(), target, ignore=SKIPPED)
    return target


def add_queue(clone: Path) -> None:
    """The doc's steps 1 and 2: the task module and the three declaration entries."""
    (clone / "tasks" / "thumbnails.py").write_text(TASK_MODULE)
    declaration = clone / "routing" / "declaration.py"
    text = declaration.read_text()
    for anchor, entry in ENTRIES.items():
        assert text.count(anchor) == 1, f"the declaration has no single {anchor.strip()!r}"
        text = text.replace(anchor, anchor + entry)
    declaration.write_text(text)


def clone_env(clone: Path) -> dict[str, str]:
    """This environment, importing the clone's code only."""
    return {**os.environ, "PYTHONPATH": str(clone)}


def switchyard(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`switchyard ARGS` run from `clone`."""
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        cwd=clone,
        env=clone_env(clone),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
