"""Worker and beat pods probe with the lean entry point the package installs."""

from __future__ import annotations

import tomllib

from config.settings import project_root
from ops.bench.probe_cost import PROBE_SCRIPT
from tests.chart.rendering import RELEASE, Render, containers, worker_container

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def test_pod_probes_run_the_lean_probe_script(renders: dict[str, Render]) -> None:
    scripts = tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[PROBE_SCRIPT] == "ops.probe:main"
    for name, render in renders.items():
        workers = render.worker_deployments()
        assert workers, name
        for pool, deployment in workers.items():
            container = worker_container(deployment)
            for probe in PROBES:
                command = container[probe]["exec"]["command"]
                assert command[0] == PROBE_SCRIPT, (name, pool, probe, command)
                assert "--max-age" in command, (name, pool, probe, command)
            assert "--ready" in container["readinessProbe"]["exec"]["command"]
        (beat,) = containers(render.get("Deployment", f"{RELEASE}-beat"))
        for probe in ("startupProbe", "livenessProbe"):
            assert beat[probe]["exec"]["command"][0] == PROBE_SCRIPT, (name, probe)
