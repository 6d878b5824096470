"""Pools come from routing/: one Deployment per pool, running exactly the pool's command."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ops.chart_topology import BEAT_SCHEDULE_FILE, TOPOLOGY_FILE, is_current, render, write
from routing.declaration import TOPOLOGY
from routing.model import PoolSpec, QueueSpec, Topology
from routing.worker_command import (
    CUSTOM_POOL_CLASSES,
    CUSTOM_POOL_ENV,
    beat_argv,
    worker_argv,
    worker_env,
)
from tests.chart.rendering import (
    CHART,
    CI_VALUES,
    RELEASE,
    RENDER_NAMES,
    Helm,
    Render,
    containers,
    pod_spec,
    worker_container,
    worker_name,
)


def _with_pools(*pools: tuple[str, str]) -> Topology:
    """The project's declaration plus one queue and one pool per (pool, queue) pair."""
    return replace(
        TOPOLOGY,
        queues=(*TOPOLOGY.queues, *(QueueSpec(queue) for _, queue in pools)),
        pools=(*TOPOLOGY.pools, *(PoolSpec(pool, queues=(queue,)) for pool, queue in pools)),
    )


def test_committed_topology_file_matches_the_declaration() -> None:
    assert is_current(TOPOLOGY, CHART), (
        f"{TOPOLOGY_FILE} is stale: run `switchyard chart values` and commit the result"
    )
    assert (CHART / TOPOLOGY_FILE).read_text() == render(TOPOLOGY)


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_one_deployment_per_pool_running_exactly_its_command(
    renders: dict[str, Render], name: str
) -> None:
    deployments = renders[name].worker_deployments()
    assert sorted(deployments) == sorted(p.name for p in TOPOLOGY.pools)
    for pool in TOPOLOGY.pools:
        deployment = deployments[pool.name]
        assert deployment["metadata"]["name"] == worker_name(pool.name)
        worker = worker_container(deployment)
        assert worker["command"] == worker_argv(pool)
        assert "args" not in worker
        consumed = worker["command"][worker["command"].index("--queues") + 1]
        assert consumed.split(",") == list(pool.queues)


def test_a_pool_added_to_the_declaration_gets_its_deployment(helm: Helm, chart_copy: Path) -> None:
    topology = _with_pools(("reports", "reports"))
    write(topology, chart_copy)
    render_ = helm.template(chart=chart_copy)
    deployment = render_.get("Deployment", worker_name("reports"))
    worker = worker_container(deployment)
    assert worker["command"] == worker_argv(topology.pool("reports"))
    assert render_.get("PodDisruptionBudget", worker_name("reports"))
    assert len(render_.worker_deployments()) == len(TOPOLOGY.pools) + 1


def test_long_pool_names_are_cut_to_63_characters_without_colliding(
    helm: Helm, chart_copy: Path
) -> None:
    long_names = ("nightly-reconciliation-of-ledger-a", "nightly-reconciliation-of-ledger-b")
    write(_with_pools(*((n, n.replace("-", "_")) for n in long_names)), chart_copy)
    deployments = helm.template(chart=chart_copy).worker_deployments()
    names = [deployments[n]["metadata"]["name"] for n in long_names]
    assert all(len(n) <= 63 for n in names)
    assert names[0] != names[1]


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_grace_period_covers_the_hard_time_limit(renders: dict[str, Render], name: str) -> None:
    for pool_name, deployment in renders[name].worker_deployments().items():
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert grace > TOPOLOGY.pool(pool_name).time_limit_s


def test_grace_period_is_time_limit_plus_margin_or_explicit(renders: dict[str, Render]) -> None:
    media = TOPOLOGY.pool("media-heavy")
    derived = renders["default"].worker_deployments()["media-heavy"]
    assert pod_spec(derived)["terminationGracePeriodSeconds"] == media.time_limit_s + 30
    explicit = renders["existing-secret"].worker_deployments()["media-heavy"]
    assert pod_spec(explicit)["terminationGracePeriodSeconds"] == 1800


def test_a_grace_period_below_the_time_limit_fails_the_render(helm: Helm) -> None:
    media = TOPOLOGY.pool("media-heavy")
    error = helm.template_error(
        sets=[f"workers.pools.{media.name}.terminationGracePeriodSeconds={media.time_limit_s}"]
    )
    assert (
        f"workers.pools.{media.name}.terminationGracePeriodSeconds={media.time_limit_s} is below "
        f"the pool's hard time limit {media.time_limit_s}s + shutdownMarginSeconds 30s"
    ) in error


def test_every_values_error_is_reported_at_once(helm: Helm) -> None:
    error = helm.template_error(
        sets=[
            "workers.pools.no-such-pool.replicas=2",
            "config.brokerConsumerTimeoutSeconds=60",
            "secret.existingSecret=urls",
            "secret.brokerUrl=amqp://inline",
        ]
    )
    assert 'declares no pool "no-such-pool"' in error
    assert "reaches config.brokerConsumerTimeoutSeconds (60s)" in error
    assert "secret.brokerUrl is set together with secret.existingSecret" in error


def test_per_pool_overrides_win_over_shared_defaults(renders: dict[str, Render]) -> None:
    render_ = renders["existing-secret"]
    deployments = render_.worker_deployments()
    media = deployments["media-heavy"]
    assert media["spec"]["replicas"] == 3
    assert pod_spec(media)["tolerations"][0]["value"] == "media"
    assert worker_container(media)["resources"]["requests"]["cpu"] == "2"
    for pool in TOPOLOGY.pools:
        spec = pod_spec(deployments[pool.name])
        assert spec["nodeSelector"] == {"workload": "workers"}
        if pool.name != "media-heavy":
            assert deployments[pool.name]["spec"]["replicas"] == pool.replicas
    budgets = {
        p["metadata"]["name"]
        for p in render_.of_kind("PodDisruptionBudget")
        if p["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    }
    assert budgets == {worker_name(p.name) for p in TOPOLOGY.pools} - {worker_name("default")}


def test_beat_is_one_replica_recreated_with_the_declared_command(
    renders: dict[str, Render],
) -> None:
    beat = renders["default"].get("Deployment", f"{RELEASE}-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert containers(beat)[0]["command"] == beat_argv(BEAT_SCHEDULE_FILE)


def test_hook_declares_the_topology_then_migrates(renders: dict[str, Render]) -> None:
    job = renders["default"].get("Job", f"{RELEASE}-topology-1")
    spec = pod_spec(job)
    assert [c["command"] for c in spec["initContainers"]] == [["switchyard", "topology", "declare"]]
    assert [c["command"] for c in spec["containers"]] == [["switchyard", "db", "migrate"]]


def test_chart_values_command_writes_and_checks_the_file(tmp_path: Path) -> None:
    from ops.cli import main

    assert main(["chart", "values", "--chart", str(tmp_path), "--check"]) == 1
    assert main(["chart", "values", "--chart", str(tmp_path)]) == 0
    assert main(["chart", "values", "--chart", str(tmp_path), "--check"]) == 0
    assert (tmp_path / TOPOLOGY_FILE).read_text() == render(TOPOLOGY)


def test_ci_values_name_only_declared_pools() -> None:
    """Per-pool overrides in the CI values refer to pools of the declaration."""
    import yaml

    declared = {p.name for p in TOPOLOGY.pools}
    for path in CI_VALUES.values():
        values = yaml.safe_load(path.read_text()) or {}
        assert set(values.get("workers", {}).get("pools", {})) <= declared, path.name


@pytest.mark.parametrize("name", RENDER_NAMES)
def test_each_worker_gets_the_environment_its_command_needs(
    renders: dict[str, Render], name: str
) -> None:
    """An inline or threads pool's `--pool custom` names its class in an environment
    variable; a pool that needs none gets none. The liveness probe of a pool that runs tasks
    in its consumer loop allows for a task as long as the hard time limit."""
    deployments = renders[name].worker_deployments()
    max_age: dict[str, int] = {}
    for pool in TOPOLOGY.pools:
        worker = worker_container(deployments[pool.name])
        env = {e["name"]: e.get("value") for e in worker["env"]}
        for variable, value in worker_env(pool).items():
            assert env[variable] == value
        assert (CUSTOM_POOL_ENV in env) == (pool.kind in CUSTOM_POOL_CLASSES)
        probe = worker["livenessProbe"]["exec"]["command"]
        max_age[pool.name] = int(probe[probe.index("--max-age") + 1])
    holding = {p.name: p.time_limit_s for p in TOPOLOGY.pools if p.tasks_hold_consumer}
    assert holding, "the declaration has an inline pool"
    (base,) = {age for pool_name, age in max_age.items() if pool_name not in holding}
    for pool_name, time_limit in holding.items():
        assert max_age[pool_name] == base + time_limit


def test_replicas_above_a_pools_max_replicas_fail_the_render(helm: Helm) -> None:
    maintenance = TOPOLOGY.pool("maintenance")
    too_many = maintenance.max_replicas + 1
    error = helm.template_error(sets=[f"workers.pools.{maintenance.name}.replicas={too_many}"])
    assert (
        f"workers.pools.{maintenance.name}.replicas={too_many} is above the pool's max_replicas "
        f"{maintenance.max_replicas}"
    ) in error
    # At the bound it renders: the check is the bound, not any override.
    at_bound = helm.template(sets=[f"workers.pools.{maintenance.name}.replicas={too_many - 1}"])
    deployment = at_bound.worker_deployments()[maintenance.name]
    assert deployment["spec"]["replicas"] == maintenance.max_replicas
