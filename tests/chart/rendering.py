"""Rendering the chart with the real `helm`, and reading what it rendered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import project_root

CHART = project_root() / "helm" / "switchyard"
CI_VALUES = {p.name.removesuffix("-values.yaml"): p for p in sorted(CHART.glob("ci/*-values.yaml"))}
# Every render uses a 40-character release name: the longest names must still fit in 63.
RELEASE = "orders-production-europe-west-switchyard"
NAMESPACE = "jobs"
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"

assert len(RELEASE) == 40

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Render:
    """The objects of one `helm template` run."""

    text: str
    objects: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name} rendered {len(found)} times"
        return found[0]

    def workloads(self) -> list[Manifest]:
        """Every object that carries a pod template."""
        return [o for o in self.objects if o["kind"] in ("Deployment", "Job")]

    def worker_deployments(self) -> dict[str, Manifest]:
        """Worker Deployments by the pool in their labels."""
        return {
            d["metadata"]["labels"]["switchyard/pool"]: d
            for d in self.of_kind("Deployment")
            if d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
        }


def worker_name(pool: str, release: str = RELEASE) -> str:
    return f"{release}-worker-{pool}"


def pod_spec(workload: Manifest) -> Manifest:
    spec: Manifest = workload["spec"]["template"]["spec"]
    return spec


def worker_container(deployment: Manifest) -> Manifest:
    """The `worker` container of a pool's pod, beside any sidecar or init container."""
    found: list[Manifest] = [c for c in pod_spec(deployment)["containers"] if c["name"] == "worker"]
    (worker,) = found
    return worker


def containers(workload: Manifest) -> list[Manifest]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


class Helm:
    """Runs the real helm binary against a chart directory."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def _template_args(
        self,
        chart: Path,
        values: Sequence[Path],
        sets: Sequence[str],
        api_versions: Sequence[str],
        release: str,
    ) -> list[str]:
        args = ["template", release, str(chart), "--namespace", NAMESPACE]
        for path in values:
            args += ["--values", str(path)]
        for assignment in sets:
            args += ["--set", assignment]
        for api in api_versions:
            args += ["--api-versions", api]
        return args

    def template(
        self,
        chart: Path = CHART,
        values: Sequence[Path] = (),
        sets: Sequence[str] = (),
        api_versions: Sequence[str] = (),
        release: str = RELEASE,
    ) -> Render:
        text = self.run(*self._template_args(chart, values, sets, api_versions, release)).stdout
        objects = [o for o in yaml.safe_load_all(text) if o]
        return Render(text, objects)

    def template_error(
        self, chart: Path = CHART, values: Sequence[Path] = (), sets: Sequence[str] = ()
    ) -> str:
        """The error of a render that must fail."""
        result = self.run(*self._template_args(chart, values, sets, (), RELEASE), check=False)
        assert result.returncode != 0, "the render was expected to fail"
        return result.stderr


def find_helm(name: str = "helm") -> str | None:
    """`helm` (or `helm3`) from PATH, else the one `make helm` put in .tools/."""
    on_path = shutil.which(name)
    if on_path:
        return on_path
    local = project_root() / ".tools" / name
    return str(local) if os.access(local, os.X_OK) else None


def helm_major(binary: str) -> str:
    """ "3" or "4", from `helm version --short` (v3.17.3+g...)."""
    version = subprocess.run(
        [binary, "version", "--short"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return version.strip().lstrip("v").split(".", 1)[0]


RENDER_NAMES = ["default", "default-with-operator", *CI_VALUES]


def as_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True)
