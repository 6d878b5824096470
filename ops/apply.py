"""Bring everything derived from the declaration up to date, or tell what is not.

After an edit of `routing/declaration.py` several things lag behind it: the chart's copy
of the topology, the alert rules and the dashboard (files in the chart), the broker's
exchanges, queues and bindings, each pool's broker user, and locally the settings file
that gives each pool its URL. `switchyard apply` does all of it; `--check` changes nothing
and lists every difference, for CI.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings, get_settings
from metrics.exporter import vhost_of
from ops.broker import connection
from ops.broker_users import PoolUserError, grant_pool_users
from ops.chart_topology import TOPOLOGY_FILE, is_current, write
from ops.commands.metrics import generated_files
from ops.commands.metrics import stale_files as stale_metrics_files
from ops.live_broker import expected_pool_users, live_broker, management_api, pools_without_url
from ops.stack.manager import Stack
from routing.declare import declare_topology
from routing.diff import diff
from routing.entities import broker_entities
from routing.model import Topology


def stale_files(topology: Topology, root: Path, chart_dir: Path) -> list[str]:
    """A line per generated file that differs from a fresh generation."""
    stale = [] if is_current(topology, chart_dir) else [chart_dir / TOPOLOGY_FILE]
    stale += [root / path for path in stale_metrics_files(root)]
    return [f"stale file {path.relative_to(root)}" for path in stale]


def write_files(topology: Topology, root: Path, chart_dir: Path) -> list[str]:
    written = [write(topology, chart_dir)]
    for path, content in generated_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
        written.append(root / path)
    return [f"wrote     {path.relative_to(root)}" for path in written]


def broker_drift(topology: Topology, settings: Settings) -> list[str]:
    """Every difference between the broker and the declaration, users included, and each
    pool that has no broker URL of its own."""
    missing = [
        f"pool {pool!r} has no broker URL in SWITCHYARD_POOL_BROKER_URLS"
        for pool in pools_without_url(topology, settings)
    ]
    pool_users = expected_pool_users(topology, settings)
    return missing + diff(broker_entities(topology), live_broker(settings), pool_users)


def apply_broker(topology: Topology) -> list[str]:
    """Pool users and URLs (the local stack's), declarations, and each pool's user.

    Raises:
        PoolUserError: a pool has no broker URL of its own, in a deployment whose other
            pools have one; its workers would otherwise connect as the producer.
    """
    lines = Stack().refresh_pools()
    settings = get_settings()
    without = pools_without_url(topology, settings)
    if without:
        raise PoolUserError(
            f"pool(s) {', '.join(without)} have no broker URL in SWITCHYARD_POOL_BROKER_URLS: "
            "add each as the URL of user switchyard-pool-<pool>, then run `switchyard apply`"
        )
    with connection() as conn:
        declared = declare_topology(conn, topology)
    lines.append(f"declared  {len(declared)} queues on the broker")
    if settings.pool_broker_urls:
        api = management_api(settings)
        vhost = vhost_of(settings.broker_url)
        lines += grant_pool_users(api, vhost, topology, settings.pool_broker_urls)
    pool_users = expected_pool_users(topology, settings)
    left = diff(broker_entities(topology), live_broker(settings), pool_users)
    if left:
        lines += left
        lines.append(
            f"{len(left)} difference(s) left on the broker: `switchyard topology prune` "
            "removes what the declaration no longer has"
        )
    return lines
