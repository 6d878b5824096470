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
from metrics.rules import alert_names, alert_rules
from metrics.yaml_text import dump
from ops.commands.metrics import ALERTS_FILE
from routing.declaration import TOPOLOGY
from routing.model import PoolSpec, QueueSpec

QUEUE = TOPOLOGY.queues[0]
POOL = TOPOLOGY.pool_of_queue(QUEUE.name)


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
        for r in _rules_named(alert_rules(TOPOLOGY), alert)
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


def _series(spec: d.MetricSpec, values: str, **labels: str) -> dict[str, str]:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{spec.name}{{{selector}}}", "values": values}


def _alert(name: str, at: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    expected = []
    if value:
        extra = {k: v for k, v in labels.items() if k != "severity"}
        expected = [{"exp_labels": labels, "exp_annotations": _annotations(name, value, **extra)}]
    return {"eval_time": at, "alertname": name, "exp_alerts": expected}


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


def _promtool_tests() -> dict[str, Any]:
    q, p = QUEUE.name, POOL.name
    on_queue = {"severity": "warning", d.QUEUE: q, d.POOL: p}
    task = "tasks.example"
    return {
        "rule_files": [str(project_root() / ALERTS_FILE)],
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
                    _alert("SwitchyardQueueExporterDown", "10m", {"severity": "warning"}, "1"),
                ],
            },
        ],
    }


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing under CI: apt-get install prometheus")
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    return found


def test_committed_rules_pass_promtool_tests(tmp_path: Path) -> None:
    tests = tmp_path / "alerts_test.yaml"
    tests.write_text(dump(_promtool_tests()))
    result = subprocess.run(
        [_promtool(), "test", "rules", str(tests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr
