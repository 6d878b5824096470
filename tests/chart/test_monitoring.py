"""Prometheus Operator objects, KEDA objects and the dashboard: what they select and scrape
(test_custom_resources checks them against their operators' schemas)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from routing.declaration import TOPOLOGY
from tests.chart.rendering import (
    CI_VALUES,
    NAMESPACE,
    PROMETHEUS_OPERATOR_API,
    RELEASE,
    Helm,
    Manifest,
    Render,
    containers,
    worker_name,
)

SAMPLE_RULES = {
    "groups": [
        {
            "name": "switchyard-queues",
            "rules": [
                {
                    "alert": "QueueWithoutConsumers",
                    "expr": 'sum by (queue) (rabbitmq_queue_consumers{queue="default"}) == 0',
                    "for": "5m",
                    "annotations": {"summary": "{{ $labels.queue }} has no consumer"},
                }
            ],
        }
    ]
}


def _selects(selector: Manifest, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _pod_labels(workload: Manifest) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_monitors_follow_the_operator_api_when_auto(renders: dict[str, Render]) -> None:
    assert renders["default"].of_kind("PodMonitor") == []
    assert renders["default"].of_kind("ServiceMonitor") == []
    assert len(renders["default-with-operator"].of_kind("PodMonitor")) == 1
    assert len(renders["default-with-operator"].of_kind("ServiceMonitor")) == 1


def test_pod_monitor_scrapes_every_worker_and_beat_on_a_declared_port(
    renders: dict[str, Render],
) -> None:
    render = renders["default-with-operator"]
    (monitor,) = render.of_kind("PodMonitor")
    scraped = {
        d["metadata"]["name"]
        for d in render.of_kind("Deployment")
        if _selects(monitor["spec"]["selector"], _pod_labels(d))
    }
    beat = render.get("Deployment", f"{RELEASE}-beat")
    assert scraped == {worker_name(p.name) for p in TOPOLOGY.pools} | {beat["metadata"]["name"]}
    endpoint_ports = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
    for name in scraped:
        served = containers(render.get("Deployment", name))
        ports = {p["name"] for c in served for p in c.get("ports", [])}
        assert endpoint_ports <= ports


@pytest.mark.parametrize("component", ["exporter", "api"])
def test_service_monitor_selects_its_own_service(
    renders: dict[str, Render], component: str
) -> None:
    render = renders["existing-secret"]
    (monitor,) = [
        m
        for m in render.of_kind("ServiceMonitor")
        if m["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    services = [
        s
        for s in render.of_kind("Service")
        if _selects(monitor["spec"]["selector"], s["metadata"]["labels"])
    ]
    assert [s["metadata"]["labels"]["app.kubernetes.io/component"] for s in services] == [component]
    service_ports = {p["name"] for p in services[0]["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= service_ports


def test_scaled_objects_target_their_pool_and_queues(renders: dict[str, Render]) -> None:
    render = renders["keda"]
    (auth,) = render.of_kind("TriggerAuthentication")
    (secret,) = render.of_kind("Secret")
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] in secret["data"]
    for scaled in render.of_kind("ScaledObject"):
        target = scaled["spec"]["scaleTargetRef"]["name"]
        deployment = render.get("Deployment", target)
        pool = TOPOLOGY.pool(deployment["metadata"]["labels"]["switchyard/pool"])
        triggers = scaled["spec"]["triggers"]
        assert [t["metadata"]["queueName"] for t in triggers] == list(pool.queues)
        assert {t["type"] for t in triggers} == {"rabbitmq"}
        assert {t["authenticationRef"]["name"] for t in triggers} == {auth["metadata"]["name"]}
        assert scaled["spec"]["maxReplicaCount"] == pool.max_replicas


def test_rules_and_dashboard_come_from_the_generated_files(helm: Helm, chart_copy: Path) -> None:
    for generated in ("alerts.yaml", "dashboard.json"):
        (chart_copy / "files" / generated).unlink(missing_ok=True)
    without = helm.template(chart=chart_copy, values=[CI_VALUES["keda"]])
    assert without.of_kind("PrometheusRule") == []
    assert without.of_kind("ConfigMap") == []

    (chart_copy / "files" / "alerts.yaml").write_text(yaml.safe_dump(SAMPLE_RULES))
    dashboard = {"title": "Switchyard", "panels": []}
    (chart_copy / "files" / "dashboard.json").write_text(json.dumps(dashboard))
    render = helm.template(chart=chart_copy, values=[CI_VALUES["keda"]])
    (rule,) = render.of_kind("PrometheusRule")
    assert rule["spec"]["groups"] == SAMPLE_RULES["groups"]
    (config_map,) = render.of_kind("ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["switchyard.json"]) == dashboard

    no_operator = helm.template(chart=chart_copy)
    assert no_operator.of_kind("PrometheusRule") == []
    assert len(no_operator.of_kind("ConfigMap")) == 1
    with_operator = helm.template(chart=chart_copy, api_versions=[PROMETHEUS_OPERATOR_API])
    assert len(with_operator.of_kind("PrometheusRule")) == 1


def test_alert_rules_select_this_release_only(renders: dict[str, Render], helm: Helm) -> None:
    """The placeholders of files/alerts.yaml become this release's namespace, job and
    Deployment names; the monitors give every target job=<release>."""
    render = renders["default-with-operator"]
    (rule,) = render.of_kind("PrometheusRule")
    text = json.dumps(rule)
    assert "__SWITCHYARD" not in text
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert all(f'namespace="{NAMESPACE}"' in e for e in exprs)
    assert all(f'job="{RELEASE}"' in e for e in exprs)
    for pool in TOPOLOGY.pools:
        assert any(f'deployment="{worker_name(pool.name)}"' in e for e in exprs)
        render.get("Deployment", worker_name(pool.name))
    (pod_monitor,) = render.of_kind("PodMonitor")
    (service_monitor,) = render.of_kind("ServiceMonitor")
    for monitor in (pod_monitor, service_monitor):
        assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/instance"
    scoped = helm.template(
        api_versions=[PROMETHEUS_OPERATOR_API],
        sets=["monitoring.alertScope.namespace=shared", "monitoring.alertScope.job=jobs-a"],
    )
    (rule,) = scoped.of_kind("PrometheusRule")
    exprs = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert all('namespace="shared"' in e and 'job="jobs-a"' in e for e in exprs)
