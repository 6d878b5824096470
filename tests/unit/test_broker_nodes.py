"""A broker of several local nodes: their names, directories and ports, and the failover
URLs clients get from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.broker_node import CLUSTER_PARTITION_HANDLING, cluster_config_lines
from config.settings import MAX_BROKER_NODES, Settings
from ops.chaos.faults import SCENARIOS
from ops.chaos.suite import rerun_bound
from ops.stack.layout import RABBIT_NODENAME, Ports, StackLayout


def test_a_single_node_keeps_its_name_directory_and_ports(tmp_path: Path) -> None:
    layout = StackLayout(tmp_path, Ports(1100))
    (node,) = layout.broker_nodes(1)
    assert (node.nodename, node.dir, node.ports.amqp) == (
        RABBIT_NODENAME,
        layout.rabbit_dir,
        layout.ports.amqp,
    )


def test_cluster_nodes_differ_in_everything_but_the_port_mapper(tmp_path: Path) -> None:
    nodes = StackLayout(tmp_path, Ports(1100)).broker_nodes(3)
    assert [n.nodename for n in nodes] == [f"switchyard-{i}@localhost" for i in (1, 2, 3)]
    assert len({n.dir for n in nodes}) == 3
    for field in ("amqp", "management", "prometheus", "dist"):
        assert len({getattr(n.ports, field) for n in nodes}) == 3, field
    assert len({n.ports.epmd for n in nodes}) == 1
    every_port = [p for n in nodes for p in (n.ports.amqp, n.ports.management, n.ports.prometheus)]
    assert len(set(every_port)) == len(every_port)


def test_a_node_can_be_placed_on_another_address(tmp_path: Path) -> None:
    node = StackLayout(tmp_path).broker_node(2, 3, host="10.7.0.2", name_host="sy-node-2")
    assert node.amqp_address == f"10.7.0.2:{node.ports.amqp}"
    assert node.nodename == "switchyard-2@sy-node-2"


def test_node_numbers_are_bounded() -> None:
    with pytest.raises(ValueError, match="nodes are numbered"):
        Ports().node(MAX_BROKER_NODES + 1)


def test_failover_urls_keep_credentials_and_vhost_and_change_only_the_host() -> None:
    settings = Settings(broker_failover_hosts="127.0.0.1:6781, 127.0.0.1:6782")
    url = "amqp://switchyard-pool-default:p%40ss@127.0.0.1:6780/switchyard"
    assert settings.with_failover(url).split(";") == [
        url,
        "amqp://switchyard-pool-default:p%40ss@127.0.0.1:6781/switchyard",
        "amqp://switchyard-pool-default:p%40ss@127.0.0.1:6782/switchyard",
    ]
    assert Settings().with_failover(url) == url  # one node: the URL as it is


def test_a_rolling_restart_may_break_each_group_once_per_node() -> None:
    rolling = next(s for s in SCENARIOS if s.name == "broker-rolling-restart")
    assert rolling.breaks_all_nodes
    assert rerun_bound(5, 2, 3) == 3 * rerun_bound(5, 2)


def test_every_node_gets_the_partition_handling_line() -> None:
    assert f"cluster_partition_handling = {CLUSTER_PARTITION_HANDLING}" in cluster_config_lines()
