"""Autoscaling per pool: off by default, an HPA or a ScaledObject when on, never both."""

from __future__ import annotations

import os
import subprocess

import pytest

from routing.declaration import TOPOLOGY
from tests.chart.rendering import CHART, CI_VALUES, NAMESPACE, RELEASE, RENDER_NAMES, Helm, Render


def _autoscalers(render: Render) -> dict[str, list[str]]:
    """Autoscaler kinds by the Deployment they scale."""
    found: dict[str, list[str]] = {}
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for obj in render.of_kind(kind):
            found.setdefault(obj["spec"]["scaleTargetRef"]["name"], []).append(kind)
    return found


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_no_pool_has_two_autoscalers(renders: dict[str, Render], name: str) -> None:
    render = renders[name]
    deployments = {d["metadata"]["name"]: d for d in render.of_kind("Deployment")}
    for target, kinds in _autoscalers(render).items():
        assert len(kinds) == 1, f"{target}: {kinds}"
        # An autoscaled Deployment leaves replicas to its autoscaler.
        assert "replicas" not in deployments[target]["spec"]


def test_autoscaling_is_off_by_default(renders: dict[str, Render]) -> None:
    assert _autoscalers(renders["default"]) == {}
    for pool in TOPOLOGY.pools:
        assert (
            renders["default"].worker_deployments()[pool.name]["spec"]["replicas"] == pool.replicas
        )


def test_the_keda_values_mix_every_mode(renders: dict[str, Render]) -> None:
    by_pool = {
        d["metadata"]["labels"]["switchyard/pool"]: _autoscalers(renders["keda"]).get(name, [])
        for name, d in ((d["metadata"]["name"], d) for d in renders["keda"].of_kind("Deployment"))
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    }
    assert by_pool["webhooks"] == ["HorizontalPodAutoscaler"]
    assert by_pool["maintenance"] == []
    assert by_pool["default"] == ["ScaledObject"]


def test_hpa_bounds_come_from_the_declaration_unless_overridden(
    renders: dict[str, Render],
) -> None:
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]
        for h in renders["autoscaling-hpa"].of_kind("HorizontalPodAutoscaler")
    }
    for pool in TOPOLOGY.pools:
        spec = hpas[f"{RELEASE}-worker-{pool.name}"]
        if pool.name == "webhooks":
            assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
            assert spec["metrics"][0]["type"] == "External"
        else:
            assert (spec["minReplicas"], spec["maxReplicas"]) == (
                max(pool.min_replicas, 1),
                pool.max_replicas,
            )


def _notes(helm: Helm, *values: str) -> str:
    """NOTES.txt as `helm install` prints it (a client-side dry run needs no cluster)."""
    args = [helm.binary, "install", RELEASE, str(CHART), "--dry-run=client"]
    args += ["--namespace", NAMESPACE]
    for path in values:
        args += ["--values", path]
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    return result.stdout.split("NOTES:", 1)[1]


def test_notes_print_kubectl_scale_for_every_pool_not_autoscaled(helm: Helm) -> None:
    notes = _notes(helm)
    for pool in TOPOLOGY.pools:
        assert (
            f"kubectl scale deployment/{RELEASE}-worker-{pool.name} --replicas=N "
            f"--namespace {NAMESPACE}"
        ) in notes
    keda_notes = _notes(helm, str(CI_VALUES["keda"]))
    assert keda_notes.count("kubectl scale deployment/") == 1
    assert f"deployment/{RELEASE}-worker-maintenance" in keda_notes


def test_config_checksum_rolls_pods_only_when_configuration_changes(helm: Helm) -> None:
    def checksums(*sets: str) -> set[str]:
        render = helm.template(sets=sets)
        return {
            w["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for w in render.of_kind("Deployment")
        }

    base = checksums("secret.brokerUrl=amqp://u:one@h/v")
    assert len(base) == 1
    assert checksums("secret.brokerUrl=amqp://u:one@h/v") == base
    assert checksums("secret.brokerUrl=amqp://u:two@h/v") != base
