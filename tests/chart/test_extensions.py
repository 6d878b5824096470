"""The chart as a platform team runs it: a dependency of an umbrella chart (Helm 3 and 4),
and the extension points of a worker pod, per pool and as shared defaults."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from routing.declaration import TOPOLOGY
from tests.chart.rendering import CHART, NAMESPACE, Helm, Manifest, Render, containers, pod_spec

UMBRELLA_CHART = {
    "apiVersion": "v2",
    "name": "platform",
    "version": "1.0.0",
    "dependencies": [{"name": "switchyard", "version": "0.1.0", "alias": "jobs"}],
}
UMBRELLA_VALUES = {
    "global": {"imageRegistry": "registry.example.com", "storageClass": "fast"},
    "jobs": {"workers": {"defaults": {"priorityClassName": "platform-jobs"}}},
}


def _worker(render: Render, pool: str) -> Manifest:
    return render.worker_deployments()[pool]


def test_renders_as_the_dependency_of_an_umbrella_chart(each_helm: Helm, tmp_path: Path) -> None:
    """`global` reaches every subchart's values; a closed schema without it fails the install."""
    umbrella = tmp_path / "platform"
    shutil.copytree(CHART, umbrella / "charts" / "switchyard")
    (umbrella / "templates").mkdir()
    (umbrella / "Chart.yaml").write_text(yaml.safe_dump(UMBRELLA_CHART))
    (umbrella / "values.yaml").write_text(yaml.safe_dump(UMBRELLA_VALUES))
    lint = each_helm.run("lint", "--strict", str(umbrella))
    assert "0 chart(s) failed" in lint.stdout
    render = each_helm.template(chart=umbrella, release="platform")
    deployments = render.worker_deployments()
    assert sorted(deployments) == sorted(p.name for p in TOPOLOGY.pools)
    for deployment in deployments.values():
        assert deployment["metadata"]["namespace"] == NAMESPACE
        assert pod_spec(deployment)["priorityClassName"] == "platform-jobs"


def test_extension_points_reach_every_worker_pod(renders: dict[str, Render]) -> None:
    render = renders["extensions"]
    for pool in TOPOLOGY.pools:
        deployment = _worker(render, pool.name)
        spec = pod_spec(deployment)
        worker = spec["containers"][0]
        assert worker["name"] == "worker"
        assert spec["priorityClassName"] == "switchyard-workers"
        metadata = deployment["spec"]["template"]["metadata"]
        assert metadata["annotations"]["team.example.com/owner"] == "payments"
        assert metadata["labels"]["team.example.com/cost-centre"] == "jobs"
        assert "team.example.com/cost-centre" not in deployment["spec"]["selector"]["matchLabels"]
        env = {e["name"]: e for e in worker["env"]}
        assert env["SSL_CERT_FILE"]["value"] == "/etc/switchyard/ca/ca.crt"
        assert worker["envFrom"] == [{"configMapRef": {"name": "switchyard-tuning"}}]
        mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
        assert mounts["ca-bundle"] == "/etc/switchyard/ca"
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["ca-bundle"]["configMap"]["name"] == "corporate-ca"
        assert worker["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]


def test_init_containers_and_sidecars_of_one_pool(renders: dict[str, Render]) -> None:
    render = renders["extensions"]
    for pool in TOPOLOGY.pools:
        names = [c["name"] for c in containers(_worker(render, pool.name))]
        if pool.name == "external-api":
            assert names == ["wait-for-topology", "wait-for-proxy", "worker", "egress-proxy"]
        else:
            assert names == ["wait-for-topology", "worker"]


def test_no_extension_point_renders_by_default(renders: dict[str, Render]) -> None:
    for deployment in renders["default"].worker_deployments().values():
        spec = pod_spec(deployment)
        assert "priorityClassName" not in spec
        assert [c["name"] for c in spec["initContainers"]] == ["wait-for-topology"]
        (worker,) = spec["containers"]
        assert "envFrom" not in worker
        assert "lifecycle" not in worker
        assert {v["name"] for v in spec["volumes"]} == {"tmp", "metrics"}


def test_each_pool_spreads_softly_across_zones_and_nodes(renders: dict[str, Render]) -> None:
    """Without this, both replicas of a pool may land on one node and go down with it."""
    for deployment in renders["default"].worker_deployments().values():
        spread = pod_spec(deployment)["topologySpreadConstraints"]
        assert [c["topologyKey"] for c in spread] == [
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        ]
        selector = deployment["spec"]["selector"]["matchLabels"]
        for constraint in spread:
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
            assert constraint["labelSelector"]["matchLabels"] == selector
            assert constraint["matchLabelKeys"] == ["pod-template-hash"]


def test_a_pool_with_its_own_spread_gets_only_that(renders: dict[str, Render], helm: Helm) -> None:
    analytics = pod_spec(_worker(renders["extensions"], "analytics"))
    (constraint,) = analytics["topologySpreadConstraints"]
    assert constraint["whenUnsatisfiable"] == "DoNotSchedule"
    off = helm.template(sets=["workers.defaults.defaultTopologySpread=false"])
    for deployment in off.worker_deployments().values():
        assert "topologySpreadConstraints" not in pod_spec(deployment)
