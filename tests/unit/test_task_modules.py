"""A worker imports exactly the task modules the declaration's routes name.

The worker's own loader (`import_default_modules`, what `celery worker` runs at start) is
run in a fresh interpreter, so what it registers is what a worker would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from routing.declaration import TOPOLOGY
from routing.model import QueueSpec, Route, Topology, TopologyError
from tests.unit.eager_app import run_eager
from tests.unit.test_routing_model import _topology

SCRIPT = """
import json
import re
from config.app import app
app.loader.import_default_modules()
print(json.dumps({"include": list(app.conf.include), "tasks": sorted(app.tasks)}))
"""


def _worker_view(tmp_path: Path) -> dict[str, list[str]]:
    view: dict[str, list[str]] = run_eager(SCRIPT, tmp_path)
    return view


def test_the_app_includes_the_declarations_modules_and_every_route_has_a_task(
    tmp_path: Path,
) -> None:
    view = _worker_view(tmp_path)
    assert set(view["include"]) == set(TOPOLOGY.task_modules)
    for route in TOPOLOGY.routes:
        assert any(route.matches(task) for task in view["tasks"]), (
            f"route {route.pattern!r} matches no task the worker registers"
        )


def test_task_modules_come_from_the_routes_once_each() -> None:
    topology = _topology(
        routes=(Route("t.a.one", "a"), Route("t.a.*", "a"), Route("t.b.*", "b", priority=3))
    )
    assert topology.task_modules == ("t.a", "t.b")
    assert isinstance(topology, Topology)


@pytest.mark.parametrize("pattern", ["nodot", "*.task", "tasks.*.run", "tasks.media."])
def test_a_route_that_names_no_module_is_refused(pattern: str) -> None:
    with pytest.raises(TopologyError, match=re.escape(f"route {pattern!r}: a task name")):
        Route(pattern, "a")


def test_derived_queue_names_cannot_be_declared() -> None:
    for name in ("x.dlq", "x.parked"):
        with pytest.raises(TopologyError, match="names are derived, not declared"):
            QueueSpec(name)
