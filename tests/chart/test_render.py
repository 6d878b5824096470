"""The chart lints, renders identically twice, and every object is valid Kubernetes."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest

from tests.chart import operator_schemas
from tests.chart.rendering import CHART, CI_VALUES, RENDER_NAMES, Helm, Render

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and two later ones.
KUBERNETES_VERSIONS = ("1.29.0", "1.32.0", "1.35.0")
# Custom resources have no schema in kubernetes-validate: test_custom_resources checks them
# against their operators' schemas.
CUSTOM_KINDS = {
    "PodMonitor",
    "ServiceMonitor",
    "PrometheusRule",
    "ScaledObject",
    "TriggerAuthentication",
    *operator_schemas.KINDS,
}


@pytest.mark.parametrize("values", [None, *CI_VALUES.values()], ids=["default", *CI_VALUES])
def test_helm_lint(helm: Helm, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)] + (["--values", str(values)] if values else [])
    result = helm.run(*args)
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", RENDER_NAMES)
def test_every_object_is_valid_for_kubernetes(
    renders: dict[str, Render], name: str, version: str
) -> None:
    errors = []
    for obj in renders[name].objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {exc.message} at {list(exc.path)}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{where}: no schema for {obj['apiVersion']} in Kubernetes {version}")
    assert errors == []


def test_two_renders_are_identical(helm: Helm) -> None:
    for values in [[], [CI_VALUES["in-cluster"]], [CI_VALUES["flower"]]]:
        assert helm.template(values=values).text == helm.template(values=values).text


def test_templates_use_no_random_or_clock_functions() -> None:
    """`uuidv4`, `now` or a random password in a pod spec would roll every pod on upgrade.

    One exception: a broker user's first password (_broker_credentials.tpl), in a Secret no
    pod spec embeds, drawn only when `lookup` finds no Secret holding one already."""
    banned = re.compile(r"\b(uuidv4|now|randAlphaNum|randAlpha|randAscii|randNumeric|genCA)\b")
    credentials = CHART / "templates" / "_broker_credentials.tpl"
    offenders = [
        f"{path.name}: {match.group(0)}"
        for path in sorted((CHART / "templates").iterdir())
        if path != credentials
        for match in banned.finditer(path.read_text())
    ]
    assert offenders == []
    text = credentials.read_text()
    assert [m.group(0) for m in banned.finditer(text)] == ["randAlphaNum"]
    assert text.index("lookup") < text.index("randAlphaNum")


def test_every_kind_rendered_is_known(renders: dict[str, Render]) -> None:
    standard = {
        "Deployment",
        "Job",
        "Service",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "Ingress",
    }
    kinds = {o["kind"] for render in renders.values() for o in render.objects}
    assert kinds <= standard | CUSTOM_KINDS
    # The CI values together exercise every custom resource but the rule (see test_monitoring).
    assert CUSTOM_KINDS - {"PrometheusRule"} <= kinds
