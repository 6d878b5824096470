"""Every custom resource the chart renders is checked against its operator's published
schema: Prometheus Operator and KEDA objects as compiled into the kubernetes-models npm
packages that crd_validators/package.json pins, the RabbitMQ operators' objects against the
CRD schemas vendored in schemas/rabbitmq/ (operator_schemas.py); kubernetes-validate checks
the rest."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.chart import operator_schemas
from tests.chart.rendering import RENDER_NAMES, Manifest, Render

VALIDATORS = Path(__file__).parent / "crd_validators"
KUBERNETES_VERSION = "1.35.0"

Validate = Callable[[Sequence[Manifest]], list[dict[str, Any]]]


@pytest.fixture(scope="session")
def validate_custom() -> Validate:
    """Runs crd_validators/validate.mjs with node (`make chart` installs its packages)."""
    node = shutil.which("node")
    installed = (VALIDATORS / "node_modules" / "@kubernetes-models").is_dir()
    if node is None or not installed:
        reason = "custom resource schemas need node and `make crd-validators`"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)

    def run(objects: Sequence[Manifest]) -> list[dict[str, Any]]:
        # The RabbitMQ operators' objects: their vendored schemas, with jsonschema.
        results = [
            {
                "kind": o["kind"],
                "name": o["metadata"]["name"],
                "error": operator_schemas.validate(o),
            }
            for o in objects
            if operator_schemas.is_rabbitmq(o)
        ]
        others = [o for o in objects if not operator_schemas.is_rabbitmq(o)]
        if not others:
            return results
        result = subprocess.run(
            [node, str(VALIDATORS / "validate.mjs")],
            input=json.dumps(others),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=VALIDATORS,
        )
        assert result.returncode == 0, result.stderr
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return results + found

    return run


@functools.cache
def _is_standard(api_version: str, kind: str) -> bool:
    """Kubernetes' own kinds: kubernetes-validate has their schemas (test_render uses it)."""
    probe = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "probe"}}
    try:
        kubernetes_validate.validate(probe, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        return True
    return True


def _custom(render: Render) -> list[Manifest]:
    return [o for o in render.objects if not _is_standard(o["apiVersion"], o["kind"])]


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_every_custom_resource_matches_its_operators_schema(
    renders: dict[str, Render], validate_custom: Validate, name: str
) -> None:
    custom = _custom(renders[name])
    results = validate_custom(custom)
    assert [r for r in results if r["error"]] == []
    assert len(results) == len(custom)


def test_the_renders_exercise_every_custom_kind(
    renders: dict[str, Render], validate_custom: Validate
) -> None:
    """No rendered object goes unchecked: each kind is Kubernetes' own or has a schema."""
    kinds = {o["kind"] for r in renders.values() for o in _custom(r)}
    assert kinds == {
        "PodMonitor",
        "ServiceMonitor",
        "PrometheusRule",
        "ScaledObject",
        "TriggerAuthentication",
        *operator_schemas.KINDS,
    }


def test_a_broken_custom_resource_is_refused(
    renders: dict[str, Render], validate_custom: Validate
) -> None:
    """The check can fail: a wrong type, a missing required field and an unknown kind."""
    (scaled, *_) = renders["keda"].of_kind("ScaledObject")
    wrong_type = copy.deepcopy(scaled)
    wrong_type["spec"]["maxReplicaCount"] = "eight"
    missing = copy.deepcopy(scaled)
    del missing["spec"]["scaleTargetRef"]
    (monitor,) = renders["default-with-operator"].of_kind("PodMonitor")
    bad_port = copy.deepcopy(monitor)
    bad_port["spec"]["podMetricsEndpoints"][0]["port"] = 9808
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    errors = [r["error"] for r in validate_custom([wrong_type, missing, bad_port, unknown])]
    assert "maxReplicaCount must be integer" in errors[0]
    assert "required property scaleTargetRef" in errors[1]
    assert "port must be string" in errors[2]
    assert errors[3] == "no schema for example.com/v1 Widget"
