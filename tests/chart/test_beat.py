"""Beat you can trust: probes on the file its scheduler touches every tick, its schedule
state on a volume that outlives the pod, and an alert when it stalls."""

from __future__ import annotations

from ops.bench.probe_cost import PROBE_SCRIPT
from ops.chart_topology import BEAT_SCHEDULE_DIR, BEAT_SCHEDULE_FILE
from routing.worker_command import BEAT_MAX_INTERVAL_S, BEAT_SCHEDULER_CLASS, beat_argv
from tests.chart.rendering import (
    PROMETHEUS_OPERATOR_API,
    RELEASE,
    Helm,
    Manifest,
    Render,
    containers,
    pod_spec,
)

BEAT = f"{RELEASE}-beat"


def _beat(render: Render) -> tuple[Manifest, Manifest]:
    deployment = render.get("Deployment", BEAT)
    (container,) = containers(deployment)
    return deployment, container


def test_beat_runs_the_ticking_scheduler_with_a_short_interval(renders: dict[str, Render]) -> None:
    _, beat = _beat(renders["default"])
    command = beat["command"]
    assert command == beat_argv(BEAT_SCHEDULE_FILE)
    assert command[command.index("--scheduler") + 1] == BEAT_SCHEDULER_CLASS
    assert command[command.index("--max-interval") + 1] == str(BEAT_MAX_INTERVAL_S)


def test_beat_is_probed_on_its_tick_file(renders: dict[str, Render]) -> None:
    _, beat = _beat(renders["default"])
    for probe in ("startupProbe", "livenessProbe"):
        command = beat[probe]["exec"]["command"]
        assert command[0] == PROBE_SCRIPT  # the lean probe (ops/probe.py)
        max_age = int(command[command.index("--max-age") + 1])
        assert max_age >= 3 * BEAT_MAX_INTERVAL_S, "a probe must allow a few slow ticks"


def test_the_schedule_lives_on_a_claim_not_on_tmp(renders: dict[str, Render]) -> None:
    render = renders["default"]
    deployment, beat = _beat(render)
    assert not BEAT_SCHEDULE_FILE.startswith("/tmp/")  # noqa: S108
    mounts = {m["mountPath"]: m["name"] for m in beat["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    volume = volumes[mounts[BEAT_SCHEDULE_DIR]]
    claim = render.get("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}, "one pod holds the claim"


def test_without_persistence_the_schedule_is_on_an_empty_dir(helm: Helm) -> None:
    render = helm.template(sets=["beat.persistence.enabled=false"])
    assert render.of_kind("PersistentVolumeClaim") == []
    deployment, _ = _beat(render)
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert "emptyDir" in volumes["schedule"]
    existing = helm.template(sets=["beat.persistence.existingClaim=beat-state"])
    assert existing.of_kind("PersistentVolumeClaim") == []
    deployment, _ = _beat(existing)
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["schedule"]["persistentVolumeClaim"]["claimName"] == "beat-state"


def test_beat_stalled_alert_watches_this_releases_beat(helm: Helm) -> None:
    def stalled(render: Render) -> list[Manifest]:
        (rule,) = render.of_kind("PrometheusRule")
        return [
            r
            for g in rule["spec"]["groups"]
            for r in g["rules"]
            if r["alert"] == "SwitchyardBeatStalled"
        ]

    (alert,) = stalled(helm.template(api_versions=[PROMETHEUS_OPERATOR_API]))
    assert f'pod=~"{BEAT}-[a-z0-9]+-[a-z0-9]+"' in alert["expr"]
    without = helm.template(api_versions=[PROMETHEUS_OPERATOR_API], sets=["beat.enabled=false"])
    assert stalled(without) == []
