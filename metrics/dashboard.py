"""The Grafana dashboard: an overview row, then one row per declared pool.

Each pool row shows throughput, failures, runtime p50/p95, queue wait p50/p95, backlog and
consumers of the pool's queues. Queries come from `metrics.promql`, pools and queues from
the declaration, so the dashboard never disagrees with the alert rules or docs/metrics.md.
"""

from __future__ import annotations

import json
from typing import Any

from metrics import definitions as d
from metrics import promql
from routing.model import PoolSpec, Topology

UID = "switchyard-pools"
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_WIDTH = 24
_PANEL_W = 8
_PANEL_H = 8

Target = tuple[str, str]  # (PromQL, legend)


def dashboard(topology: Topology) -> dict[str, Any]:
    """The dashboard document Grafana imports (or its sidecar loads from a ConfigMap)."""
    panels: list[dict[str, Any]] = []
    y = 0
    for title, row in [("Broker and exporter", _overview()), *_pool_rows(topology)]:
        panels.append(_row(title, y, len(panels) + 1))
        y += 1
        for index, (panel_title, unit, targets) in enumerate(row):
            x = (index * _PANEL_W) % _WIDTH
            if index and x == 0:
                y += _PANEL_H
            panels.append(
                _timeseries(panel_title, unit, targets, x=x, y=y, panel_id=len(panels) + 1)
            )
        y += _PANEL_H
    return {
        "uid": UID,
        "title": "Switchyard pools and queues",
        "tags": ["switchyard", "celery"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboard_json(topology: Topology) -> str:
    return json.dumps(dashboard(topology), indent=2, sort_keys=False) + "\n"


Panel = tuple[str, str, list[Target]]


def _overview() -> list[Panel]:
    dead = f"{d.DEAD_LETTERED.name}"
    return [
        ("Broker reachable (exporter)", "none", [(d.BROKER_UP.name, "broker up")]),
        ("Dead-lettered messages", "short", [(dead, f"{{{{{d.QUEUE}}}}}")]),
        ("Unroutable messages", "short", [(d.UNROUTABLE.name, "unroutable")]),
        (
            "Dead-lettered by workers (messages/s)",
            "ops",
            [
                (
                    promql.rate_of(d.DEAD_LETTERED_BY_WORKER, f"{d.QUEUE}, {d.KIND}"),
                    f"{{{{{d.QUEUE}}}}} {{{{{d.KIND}}}}}",
                ),
            ],
        ),
    ]


def _pool_rows(topology: Topology) -> list[tuple[str, list[Panel]]]:
    return [(f"Pool {pool.name} ({', '.join(pool.queues)})", _pool_panels(pool))
            for pool in topology.pools]  # fmt: skip


def _pool_panels(pool: PoolSpec) -> list[Panel]:
    on = {d.QUEUE: promql.queues_regex(pool.queues)}
    by_task = f"{{{{{d.TASK}}}}}"
    by_queue = f"{{{{{d.QUEUE}}}}}"
    return [
        ("Throughput (tasks/s)", "ops", [
            (promql.throughput(d.QUEUE, **on), f"{by_queue} finished"),
            (promql.rate_of(d.TASK_SENT, d.QUEUE, **on), f"{by_queue} sent"),
        ]),
        ("Failures and retries (tasks/s)", "ops", [
            (promql.rate_of(d.TASK_FAILED, d.TASK, **on), f"{by_task} failed"),
            (promql.rate_of(d.TASK_RETRIED, d.TASK, **on), f"{by_task} retried"),
            (promql.rate_of(d.TASK_REJECTED, d.TASK, **on), f"{by_task} rejected"),
        ]),
        ("Runtime p50 / p95", "s", [
            (promql.quantile(d.TASK_RUNTIME, 0.5, d.TASK, **on), f"{by_task} p50"),
            (promql.quantile(d.TASK_RUNTIME, 0.95, d.TASK, **on), f"{by_task} p95"),
        ]),
        ("Queue wait p50 / p95", "s", [
            (promql.quantile(d.TASK_QUEUE_WAIT, 0.5, d.QUEUE, **on), f"{by_queue} p50"),
            (promql.quantile(d.TASK_QUEUE_WAIT, 0.95, d.QUEUE, **on), f"{by_queue} p95"),
        ]),
        ("Backlog (ready + unacknowledged)", "short", [
            (promql.backlog(**on), by_queue),
        ]),
        ("Consumers and busy workers", "short", [
            (f"{d.QUEUE_CONSUMERS.name}{promql.selector(**on)}", f"{by_queue} consumers"),
            (f"sum({d.WORKER_TASKS_ACTIVE.name}{promql.selector(**{d.POOL: pool.name})})",
             "tasks running"),
        ]),
    ]  # fmt: skip


def _row(title: str, y: int, panel_id: int) -> dict[str, Any]:
    return {
        "type": "row",
        "id": panel_id,
        "title": title,
        "collapsed": False,
        "gridPos": {"x": 0, "y": y, "w": _WIDTH, "h": 1},
        "panels": [],
    }


def _timeseries(
    title: str, unit: str, targets: list[Target], *, x: int, y: int, panel_id: int
) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "id": panel_id,
        "title": title,
        "datasource": _DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": _PANEL_W, "h": _PANEL_H},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend,
             "datasource": _DATASOURCE}
            for i, (expr, legend) in enumerate(targets)
        ],
    }  # fmt: skip
