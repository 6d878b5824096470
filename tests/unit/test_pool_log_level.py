"""A pool's log level reaches its worker command line, and with it the chart's."""

from __future__ import annotations

from dataclasses import replace

from ops.chart_topology import chart_topology
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv


def _loglevel(argv: list[str]) -> str:
    return argv[argv.index("--loglevel") + 1]


def test_the_worker_logs_at_the_pools_level() -> None:
    pool = TOPOLOGY.pool("default")
    assert _loglevel(worker_argv(replace(pool, log_level="ERROR"))) == "ERROR"
    for spec in TOPOLOGY.pools:
        assert _loglevel(worker_argv(spec)) == spec.log_level


def test_the_chart_runs_each_pool_at_its_level() -> None:
    pools = {p["name"]: p for p in chart_topology(TOPOLOGY)["pools"]}
    for spec in TOPOLOGY.pools:
        assert _loglevel(pools[spec.name]["command"]) == spec.log_level
