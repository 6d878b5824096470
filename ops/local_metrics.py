"""What `switchyard run` adds for observability on one machine.

Every process gets its own metrics port and multiprocess directory (a pod has them to
itself, processes on one host do not); the queue exporter runs beside the pools; a local
Prometheus scrapes them all, RabbitMQ's own endpoint included, and evaluates the generated
alert rules; Flower runs on request.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from config.settings import ENV_PREFIX, Settings
from metrics.exposition import MULTIPROC_ENV
from ops.stack import layout as L
from ops.stack.accounts import StackError
from ops.stack.prometheus import PrometheusServer, ScrapeTarget
from routing.model import PoolSpec, Topology
from routing.worker_command import CELERY_APP

WORKER_JOB = "celery"  # the job names danihodovic/celery-exporter's mixin selects
EXPORTER_JOB = "celery-exporter"
API_JOB = "switchyard-api"
RABBITMQ_JOB = "rabbitmq"
ALERTS_RULE_FILE = "alerts.yaml"


@dataclass(frozen=True)
class LocalWorker:
    """One worker process of a local run; `index` numbers its metrics port."""

    pool: PoolSpec
    instance: int
    index: int

    @property
    def process(self) -> str:
        suffix = f"-{self.instance}" if self.instance else ""
        return f"worker-{self.pool.name}{suffix}"


def local_workers(
    topology: Topology, only: str | None = None, replicas: int | None = None
) -> list[LocalWorker]:
    """Each pool's `replicas` worker processes, as its Deployment runs them by default;
    with `only`, that pool's alone, and `replicas` of them when given."""
    pools = [topology.pool(only)] if only else list(topology.pools)
    pairs = [(pool, n) for pool in pools for n in range(replicas or pool.replicas)]
    return [LocalWorker(pool, n, index) for index, (pool, n) in enumerate(pairs)]


def setting_env(field: str) -> str:
    """The environment variable of a settings field."""
    if field not in Settings.model_fields:
        raise KeyError(f"no setting {field!r}")
    return ENV_PREFIX + field.upper()


def metrics_env(process: str, port: int, root: Path) -> dict[str, str]:
    """A process's metrics port (on loopback) and its own multiprocess directory."""
    return {
        setting_env("metrics_port"): str(port),
        setting_env("metrics_host"): L.HOST,
        MULTIPROC_ENV: str(root / "metrics" / process),
    }


def exporter_command(port: int) -> tuple[list[str], dict[str, str]]:
    """`switchyard exporter` with this interpreter, listening on loopback `port`."""
    env = {setting_env("exporter_port"): str(port), setting_env("metrics_host"): L.HOST}
    return [sys.executable, "-m", "ops.cli", "exporter"], env


def scrape_targets(
    topology: Topology,
    ports: L.Ports,
    *,
    beat: bool,
    rabbitmq: bool,
    workers: list[LocalWorker] | None = None,
    api: bool = False,
) -> list[ScrapeTarget]:
    """Every endpoint of a local run (all pools' workers unless `workers` says which), as
    the Prometheus config lists them."""
    targets = [
        ScrapeTarget(
            WORKER_JOB, f"{L.HOST}:{ports.pool_metrics(w.index)}", {"process": w.pool.name}
        )
        for w in (local_workers(topology) if workers is None else workers)
    ]
    if beat:
        beat_target = ScrapeTarget(
            WORKER_JOB, f"{L.HOST}:{ports.beat_metrics}", {"process": "beat"}
        )
        targets.append(beat_target)
    targets.append(ScrapeTarget(EXPORTER_JOB, f"{L.HOST}:{ports.exporter}"))
    if rabbitmq:
        targets.append(ScrapeTarget(RABBITMQ_JOB, f"{L.HOST}:{ports.rabbit_prometheus}"))
    if api:
        targets.append(ScrapeTarget(API_JOB, f"{L.HOST}:{ports.api_metrics}"))
    return targets


def start_prometheus(
    server: PrometheusServer, targets: list[ScrapeTarget], topology: Topology
) -> bool:
    """Configure `server` for these targets and the generated alerts; start or reload it."""
    from metrics.rules import alert_rules_yaml

    server.configure(targets, {ALERTS_RULE_FILE: alert_rules_yaml(topology)})
    return server.start()


def flower_command(port: int, broker_api_url: str) -> list[str]:
    """Flower against the stack, with the management API for queue statistics.

    Raises:
        StackError: Flower is not installed (it is the optional `flower` extra).
    """
    if importlib.util.find_spec("flower") is None:
        raise StackError("Flower is not installed: pip install -e '.[flower]'")
    argv = ["celery", "--app", CELERY_APP, "flower", f"--address={L.HOST}", f"--port={port}"]
    if broker_api_url:
        argv.append(f"--broker_api={broker_api_url.rstrip('/')}/api/")
    return argv
