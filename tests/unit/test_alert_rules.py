"""The generated alert rules: one set per queue and pool, checked by `promtool test rules`."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from config.settings import project_root
from metrics import definitions as d
from metrics.dashboard import dashboard
from metrics.rules import (
    CHART_DEPLOYMENT,
    CHART_JOB,
    CHART_NAMESPACE,
    CONTAINER_RESTARTS,
    DESIRED_REPLICAS,
    AlertScope,
    alert_names,
    alert_rules,
    alert_rules_yaml,
)
from metrics.yaml_text import dump
from ops.commands.metrics import ALERTS_FILE
from routing.declaration import TOPOLOGY
from routing.model import PoolSpec, QueueSpec

QUEUE = TOPOLOGY.queues[0]
POOL = TOPOLOGY.pool_of_queue(QUEUE.name)
# Two releases of the same declaration in one Prometheus: `orders` is the one under test.
SCOPE = AlertScope(
    namespace="jobs",
    job="orders",
    deployments={p.name: f"orders-worker-{p.name}" for p in TOPOLOGY.pools},
    beat="orders-beat",
)
OTHER = {"namespace": "jobs", "job": "billing"}


def _rules_named(document: dict[str, Any], alert: str) -> list[dict[str, Any]]:
    return [r for g in document["groups"] for r in g["rules"] if r["alert"] == alert]


def test_every_queue_and_pool_has_its_alerts() -> None:
    document = alert_rules(TOPOLOGY)
    for alert in (
        "SwitchyardQueueBacklogGrowing",
        "SwitchyardDeadLetterQueueNotEmpty",
        "SwitchyardQueueWithoutConsumers",
    ):
        queues = {r["labels"][d.QUEUE] for r in _rules_named(document, alert)}
        assert queues == {q.name for q in TOPOLOGY.queues}, alert
    pools = {r["labels"][d.POOL] for r in _rules_named(document, "SwitchyardPoolDown")}
    assert pools == {p.name for p in TOPOLOGY.pools if p.min_replicas > 0}
    assert {"SwitchyardQueueExporterDown", "SwitchyardTaskFailureRatioHigh"} <= alert_names(
        document
    )


def test_a_queue_added_to_the_declaration_gets_alerts_and_a_dashboard_row() -> None:
    added = replace(
        TOPOLOGY,
        queues=(*TOPOLOGY.queues, QueueSpec("reports")),
        pools=(*TOPOLOGY.pools, PoolSpec("reports", queues=("reports",))),
    )
    document = alert_rules(added)
    dlq_rules = _rules_named(document, "SwitchyardDeadLetterQueueNotEmpty")
    assert "reports" in {r["labels"][d.QUEUE] for r in dlq_rules}
    rows = [p["title"] for p in dashboard(added)["panels"] if p["type"] == "row"]
    assert rows[-1] == "Pool reports (reports)"
    assert len(rows) == len(added.pools) + 1


def test_a_pool_that_may_scale_to_zero_alerts_only_on_waiting_messages() -> None:
    pool = replace(POOL, min_replicas=0, replicas=0)
    scaled = replace(TOPOLOGY, pools=tuple(pool if p == POOL else p for p in TOPOLOGY.pools))
    document = alert_rules(scaled)
    assert POOL.name not in {
        r["labels"][d.POOL] for r in _rules_named(document, "SwitchyardPoolDown")
    }
    consumers = next(
        r
        for r in _rules_named(document, "SwitchyardQueueWithoutConsumers")
        if r["labels"][d.QUEUE] == QUEUE.name
    )
    assert f"{d.QUEUE_READY.name}" in consumers["expr"]


def _annotations(alert: str, value: str, **labels: str) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for this value and these labels."""
    rule = next(
        r
        for r in _rules_named(alert_rules(TOPOLOGY, scope=SCOPE), alert)
        if all(r["labels"].get(k, v) == v for k, v in labels.items())
    )
    rendered = {}
    for key, template in rule["annotations"].items():
        text = template.replace("{{ $value | humanizePercentage }}", value)
        text = text.replace("{{ $value }}", value)
        for name, label_value in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", label_value)
        rendered[key] = text
    return rendered


def _series(spec: d.MetricSpec | str, values: str, **labels: str) -> dict[str, str]:
    """A series of the release under test unless `labels` say otherwise."""
    name = spec if isinstance(spec, str) else spec.name
    if isinstance(spec, d.MetricSpec):
        labels = {**SCOPE.labels, **labels}
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{selector}}}", "values": values}


def _desired(pool: PoolSpec, values: str) -> dict[str, str]:
    """kube-state-metrics' replicas of the pool's Deployment."""
    return _series(
        DESIRED_REPLICAS,
        values,
        namespace=SCOPE.namespace,
        deployment=SCOPE.deployments[pool.name],
        job="kube-state-metrics",
    )


def _alert(name: str, at: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    """The alert as promtool sees it: the rule's labels plus the scope's, from the series."""
    expected = []
    if value:
        extra = {k: v for k, v in labels.items() if k != "severity"}
        scoped = {**labels, **SCOPE.labels} if name not in _UNLABELLED else labels
        expected = [{"exp_labels": scoped, "exp_annotations": _annotations(name, value, **extra)}]
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


# Alerts whose expression aggregates the series' labels away (sum, absent, vector).
_UNLABELLED = {
    "SwitchyardBeatStalled",
    "SwitchyardPoolDown",
    "SwitchyardQueueExporterDown",
    "SwitchyardTaskFailureRatioHigh",
}


def _every_pool_down(at: str) -> dict[str, Any]:
    """Only the pool whose workers reported is down by its value; the others have no
    series at all, which is down too."""
    return {
        "eval_time": at,
        "alertname": "SwitchyardPoolDown",
        "exp_alerts": [
            _alert("SwitchyardPoolDown", at, {"severity": "critical", d.POOL: pool.name}, "0")[
                "exp_alerts"
            ][0]
            for pool in TOPOLOGY.pools
            if pool.min_replicas > 0
        ],
    }


def _promtool_tests(rule_file: Path) -> dict[str, Any]:
    q, p = QUEUE.name, POOL.name
    on_queue = {"severity": "warning", d.QUEUE: q, d.POOL: p}
    task = "tasks.example"
    absent_labels = {"severity": "warning", **SCOPE.labels}
    return {
        "rule_files": [str(rule_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    _series(d.BROKER_UP, "1x40"),
                    _series(d.DEAD_LETTERED, "0 0 3x20", **{d.QUEUE: q}),
                    _series(d.QUEUE_CONSUMERS, "1 1 0x20", **{d.QUEUE: q}),
                    _series(d.QUEUE_READY, "0+10x40", **{d.QUEUE: q}),
                    _series(d.WORKER_UP, "1 1 0x20", **{d.POOL: p, d.HOSTNAME: "h"}),
                    _series(
                        d.TASK_FAILED, "0+6x40", **{d.TASK: task, d.QUEUE: q, d.EXCEPTION: "E"}
                    ),
                    _series(d.TASK_SUCCEEDED, "0+4x40", **{d.TASK: task, d.QUEUE: q}),
                ],
                "alert_rule_test": [
                    _alert("SwitchyardDeadLetterQueueNotEmpty", "2m", on_queue),
                    _alert("SwitchyardDeadLetterQueueNotEmpty", "4m", on_queue, "3"),
                    _alert("SwitchyardQueueWithoutConsumers", "4m", on_queue),
                    _alert(
                        "SwitchyardQueueWithoutConsumers",
                        "8m",
                        {**on_queue, "severity": "critical"},
                        "0",
                    ),
                    _every_pool_down("8m"),
                    _alert("SwitchyardQueueBacklogGrowing", "10m", on_queue),
                    _alert("SwitchyardQueueBacklogGrowing", "30m", on_queue, "300"),
                    _alert(
                        "SwitchyardTaskFailureRatioHigh",
                        "25m",
                        {"severity": "warning", d.POOL: p, d.TASK: task, d.QUEUE: q},
                        "60%",
                    ),
                    _alert("SwitchyardQueueExporterDown", "30m", {}),
                ],
            },
            {
                "interval": "1m",
                "input_series": [_series(d.QUEUE_CONSUMERS, "1x20", **{d.QUEUE: q})],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "SwitchyardQueueExporterDown",
                        "exp_alerts": [
                            {
                                "exp_labels": absent_labels,
                                "exp_annotations": _annotations("SwitchyardQueueExporterDown", "1"),
                            }
                        ],
                    },
                ],
            },
            *_shared_cluster_tests(),
            *_beat_tests(),
        ],
    }


def _beat_tests() -> list[dict[str, Any]]:
    """Beat scraped and never restarted: quiet. Restarted by its liveness probe (it stopped
    ticking), or not scraped at all: SwitchyardBeatStalled. Another release's beat does
    not count."""
    pod = "orders-beat-5d8f7c9b4-x2x7q"
    scraped = _series("up", "1x30", pod=pod, **SCOPE.labels)
    other = _series("up", "1x30", pod="billing-beat-7f9c-abcde", **OTHER)
    restarts = {"namespace": SCOPE.namespace, "container": "beat", "pod": pod}
    stalled = {"severity": "critical"}
    return [
        {
            "interval": "1m",
            "input_series": [scraped, _series(CONTAINER_RESTARTS, "0x30", **restarts)],
            "alert_rule_test": [_alert("SwitchyardBeatStalled", "20m", {})],
        },
        {
            "interval": "1m",
            "input_series": [scraped, _series(CONTAINER_RESTARTS, "0x5 1x25", **restarts)],
            "alert_rule_test": [
                _alert("SwitchyardBeatStalled", "5m", {}),
                _alert("SwitchyardBeatStalled", "12m", stalled, "1"),
            ],
        },
        {
            "interval": "1m",
            "input_series": [other],
            "alert_rule_test": [_alert("SwitchyardBeatStalled", "10m", stalled, "0")],
        },
    ]


def _shared_cluster_tests() -> list[dict[str, Any]]:
    """Another release's series never fire or mask this one's alerts; a pool scaled to zero
    on purpose is not down, and one whose Deployment wants replicas is."""
    q, p = QUEUE.name, POOL.name
    other_queue = {d.QUEUE: q, **OTHER}
    up_elsewhere = [
        _series(d.WORKER_UP.name, "1x20", **{d.POOL: pool.name, d.HOSTNAME: "h", **OTHER})
        for pool in TOPOLOGY.pools
    ]
    ours_up = [
        _series(d.WORKER_UP, "1x20", **{d.POOL: pool.name, d.HOSTNAME: "h"})
        for pool in TOPOLOGY.pools
        if pool.name != p
    ]
    return [
        {
            # The other release's queue has no consumer and its broker is down: not ours.
            "interval": "1m",
            "input_series": [
                _series(d.BROKER_UP, "1x20"),
                _series(d.BROKER_UP.name, "0x20", **OTHER),
                _series(d.QUEUE_CONSUMERS, "1x20", **{d.QUEUE: q}),
                _series(d.QUEUE_CONSUMERS.name, "0x20", **other_queue),
                _series(d.DEAD_LETTERED.name, "5x20", **other_queue),
                *up_elsewhere,
                *ours_up,
                _series(d.WORKER_UP, "1x20", **{d.POOL: p, d.HOSTNAME: "h"}),
            ],
            "alert_rule_test": [
                _alert("SwitchyardQueueWithoutConsumers", "10m", {}),
                _alert("SwitchyardDeadLetterQueueNotEmpty", "10m", {}),
                _alert("SwitchyardBrokerUnreachable", "10m", {}),
                _alert("SwitchyardPoolDown", "10m", {}),
            ],
        },
        {
            # Our pool is scaled to zero (kubectl scale, KEDA) while the other release's
            # workers are up: nothing is down.
            "interval": "1m",
            "input_series": [
                *up_elsewhere,
                *ours_up,
                _desired(POOL, "0x20"),
                _series(d.QUEUE_CONSUMERS, "0x20", **{d.QUEUE: q}),
            ],
            "alert_rule_test": [
                _alert("SwitchyardPoolDown", "10m", {}),
                _alert("SwitchyardQueueWithoutConsumers", "10m", {}),
            ],
        },
        {
            # Our Deployment wants 2 replicas and none is up, though the other release's are.
            "interval": "1m",
            "input_series": [*up_elsewhere, *ours_up, _desired(POOL, "2x20")],
            "alert_rule_test": [
                _alert("SwitchyardPoolDown", "10m", {"severity": "critical", d.POOL: p}, "0"),
            ],
        },
    ]


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing under CI: apt-get install prometheus")
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    return found


def test_scoped_rules_pass_promtool_tests(tmp_path: Path) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(alert_rules_yaml(TOPOLOGY, scope=SCOPE))
    tests = tmp_path / "alerts_test.yaml"
    tests.write_text(dump(_promtool_tests(rules)))
    result = subprocess.run(
        [_promtool(), "test", "rules", str(tests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_expression_is_scoped_to_one_release() -> None:
    """Each selector of every rule names the release's namespace, and its job unless it is
    kube-state-metrics' view of the release's Deployments or containers."""
    import re

    for group in alert_rules(TOPOLOGY, scope=SCOPE)["groups"]:
        for rule in group["rules"]:
            for selector in re.findall(r"\{[^{}]*\}", rule["expr"]):
                assert 'namespace="jobs"' in selector, rule["expr"]
                if "deployment=" not in selector and "container=" not in selector:
                    assert 'job="orders"' in selector, rule["expr"]


def test_a_pool_allowed_to_scale_to_zero_is_down_only_when_replicas_are_wanted() -> None:
    pool = replace(POOL, min_replicas=0, replicas=0)
    scaled = replace(TOPOLOGY, pools=tuple(pool if p == POOL else p for p in TOPOLOGY.pools))
    (rule,) = [
        r
        for r in _rules_named(alert_rules(scaled, scope=SCOPE), "SwitchyardPoolDown")
        if r["labels"][d.POOL] == POOL.name
    ]
    assert f"and on() (sum({DESIRED_REPLICAS}" in rule["expr"]
    assert rule["expr"].endswith("> 0)")


def test_the_chart_copy_carries_placeholders_the_chart_fills() -> None:
    committed = (project_root() / ALERTS_FILE).read_text()
    assert f'namespace="{CHART_NAMESPACE}"' in committed
    assert f'job="{CHART_JOB}"' in committed
    for pool in TOPOLOGY.pools:
        assert CHART_DEPLOYMENT.format(pool=pool.name) in committed
