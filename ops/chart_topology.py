"""The chart's copy of the declaration: `helm/switchyard/files/topology.json`.

Helm cannot import Python, so `switchyard chart values` writes what the templates need
about pools and queues into a file inside the chart, and the templates read it with
`.Files.Get`. Nothing about queues is typed in the chart; a test fails when the committed
file differs from a fresh generation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config.broker_node import cluster_config_lines
from config.settings import project_root
from routing.model import PoolSpec, Topology
from routing.names import PRODUCER_BROKER_USER, dlq_name, pool_broker_user
from routing.operator_topology import operator_topology
from routing.worker_command import beat_argv, worker_argv, worker_env

TOPOLOGY_FILE = Path("files") / "topology.json"
# Beat keeps its schedule state on its own volume (a PersistentVolumeClaim by default), so
# last-run times survive a restart of the pod.
BEAT_SCHEDULE_DIR = "/var/lib/switchyard/beat"
BEAT_SCHEDULE_FILE = f"{BEAT_SCHEDULE_DIR}/celerybeat-schedule"


def default_chart_dir() -> Path:
    return project_root() / "helm" / "switchyard"


def _pool(pool: PoolSpec) -> dict[str, Any]:
    return {
        "name": pool.name,
        "description": pool.description,
        "queues": list(pool.queues),
        "kind": pool.kind,
        "concurrency": pool.concurrency,
        "prefetchMultiplier": pool.prefetch_multiplier,
        "softTimeLimitSeconds": pool.soft_time_limit_s,
        "timeLimitSeconds": pool.time_limit_s,
        "replicas": pool.replicas,
        "minReplicas": pool.min_replicas,
        "maxReplicas": pool.max_replicas,
        "command": worker_argv(pool),
        "env": [{"name": k, "value": v} for k, v in sorted(worker_env(pool).items())],
        "tasksHoldConsumer": pool.tasks_hold_consumer,
        "brokerUser": pool_broker_user(pool.name),
        "egress": [
            {"name": e.name, "ports": list(e.ports), "cidrs": list(e.cidrs)} for e in pool.egress
        ],
    }


def chart_topology(topology: Topology) -> dict[str, Any]:
    """What the templates read: pools with their exact command lines, beat, queues, and the
    broker entities and pool users for the operators' resources."""
    return {
        "_generated": "by `switchyard chart values` from routing/declaration.py; do not edit",
        "pools": [_pool(pool) for pool in topology.pools],
        "beat": {"command": beat_argv(BEAT_SCHEDULE_FILE), "scheduleDir": BEAT_SCHEDULE_DIR},
        "api": {"command": ["switchyard", "api"], "brokerUser": PRODUCER_BROKER_USER},
        "queues": [
            {
                "name": queue.name,
                "deadLetterQueue": dlq_name(queue.name),
                "pool": topology.pool_of_queue(queue.name).name,
            }
            for queue in topology.queues
        ],
        # What the Messaging Topology Operator's resources declare (rabbitmq.cluster.enabled).
        "broker": operator_topology(topology),
        # rabbitmq.conf lines the RabbitmqCluster shares with every local stack node.
        "brokerConfig": cluster_config_lines(),
    }


def render(topology: Topology) -> str:
    return json.dumps(chart_topology(topology), indent=2) + "\n"


def write(topology: Topology, chart_dir: Path) -> Path:
    """Write the file into `chart_dir`; return its path."""
    target = chart_dir / TOPOLOGY_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(topology))
    return target


def is_current(topology: Topology, chart_dir: Path) -> bool:
    target = chart_dir / TOPOLOGY_FILE
    return target.is_file() and target.read_text() == render(topology)
