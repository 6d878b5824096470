"""`switchyard apply --files-only` keeps the chart's generated files in step with the
declaration, and `--check` fails while they are not: no broker needed, as in CI."""

from __future__ import annotations

import json
from pathlib import Path

from config.settings import project_root
from tests.project_copy import POOL, add_queue, copy_project, switchyard

GENERATED = ("topology.json", "alerts.yaml", "dashboard.json")


def test_this_checkouts_generated_files_are_current() -> None:
    done = switchyard(project_root(), "apply", "--check", "--files-only")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_new_queue_makes_every_generated_file_stale_until_apply(tmp_path: Path) -> None:
    clone = copy_project(tmp_path / "clone")
    add_queue(clone)
    stale = switchyard(clone, "apply", "--check", "--files-only")
    assert stale.returncode == 1
    assert [line.removeprefix("stale file ") for line in stale.stdout.splitlines()] == [
        f"helm/switchyard/files/{name}" for name in GENERATED
    ]
    applied = switchyard(clone, "apply", "--files-only")
    assert applied.returncode == 0, applied.stderr
    assert switchyard(clone, "apply", "--check", "--files-only").returncode == 0
    pools = json.loads((clone / "helm/switchyard/files/topology.json").read_text())["pools"]
    assert POOL in [pool["name"] for pool in pools]
