"""The chart tier: the real `helm` renders the chart, Python checks what it rendered.

helm comes from PATH or from `.tools/helm` (`make helm` fetches it). Without it the tier is
skipped with the reason, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.chart.rendering import (
    CHART,
    CI_VALUES,
    PROMETHEUS_OPERATOR_API,
    Helm,
    Render,
    find_helm,
    helm_major,
)


@pytest.fixture(scope="session")
def helm() -> Helm:
    binary = find_helm()
    if binary is None:
        reason = "no helm on PATH or in .tools/: run `make helm`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return Helm(binary)


@pytest.fixture(scope="session", params=["3", "4"])
def each_helm(request: pytest.FixtureRequest) -> Helm:
    """Helm 3 and Helm 4 in turn: `helm` and `helm3` from PATH or .tools/ (`make helm`)."""
    major: str = request.param
    for name in ("helm", "helm3"):
        binary = find_helm(name)
        if binary is not None and helm_major(binary) == major:
            return Helm(binary)
    reason = f"no Helm {major} as `helm` or `helm3` on PATH or in .tools/: run `make helm`"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def renders(helm: Helm) -> dict[str, Render]:
    """The default values, the default values on a cluster with the Prometheus Operator,
    and each ci/*-values.yaml."""
    found = {
        "default": helm.template(),
        "default-with-operator": helm.template(api_versions=[PROMETHEUS_OPERATOR_API]),
    }
    for name, path in CI_VALUES.items():
        found[name] = helm.template(values=[path])
    return found


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    """A scratch copy of the chart, for renders with generated files changed."""
    target = tmp_path / "switchyard"
    shutil.copytree(CHART, target)
    return target
