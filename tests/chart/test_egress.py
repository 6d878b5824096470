"""Egress comes from the declaration: a pool reaches the broker, the database and DNS, plus
exactly what its PoolSpec says it calls, plus the extraEgress rules of the values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ops.chart_topology import write
from routing.declaration import TOPOLOGY
from routing.egress import Egress
from routing.model import PoolSpec
from tests.chart.rendering import CI_VALUES, Helm, Manifest, Render

BASE_PORTS = {53, 5672, 5671, 5432}
HTTP_POOLS = {"webhooks", "external-api"}


def _policy(render: Render, pool: str) -> Manifest:
    (policy,) = [
        p
        for p in render.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"]["matchLabels"].get("switchyard/pool") == pool
    ]
    return policy


def _ports(policy: Manifest) -> set[int]:
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}


def test_the_http_pools_are_declared_to_call_https() -> None:
    calling = {p.name for p in TOPOLOGY.pools if any(443 in e.ports for e in p.egress)}
    assert calling == HTTP_POOLS


def test_http_pools_reach_443_and_the_others_only_broker_database_and_dns(
    renders: dict[str, Render],
) -> None:
    render = renders["default"]
    for pool in TOPOLOGY.pools:
        policy = _policy(render, pool.name)
        declared = {port for egress in pool.egress for port in egress.ports}
        assert _ports(policy) == BASE_PORTS | declared, pool.name
        assert (443 in _ports(policy)) == (pool.name in HTTP_POOLS), pool.name
        (ingress,) = policy["spec"]["ingress"]
        assert [p["port"] for p in ingress["ports"]] == [9808]
        assert ingress["from"][0]["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "prometheus"
        }


def test_any_address_means_no_peer_list(renders: dict[str, Render]) -> None:
    """HTTPS to any address: the rule has ports and no `to`, which Kubernetes reads as any."""
    policy = _policy(renders["default"], "webhooks")
    (https,) = [r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 443]
    assert "to" not in https


def test_named_cidrs_narrow_a_declared_destination(helm: Helm, chart_copy: Path) -> None:
    payments = Egress("payments", ports=(8443,), cidrs=("203.0.113.0/24", "2001:db8::/32"))
    pools = tuple(
        PoolSpec(p.name, queues=p.queues, egress=(payments,)) if p.name == "analytics" else p
        for p in TOPOLOGY.pools
    )
    write(replace(TOPOLOGY, pools=pools), chart_copy)
    policy = _policy(helm.template(chart=chart_copy), "analytics")
    (rule,) = [r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 8443]
    assert rule["to"] == [
        {"ipBlock": {"cidr": "203.0.113.0/24"}},
        {"ipBlock": {"cidr": "2001:db8::/32"}},
    ]
    assert 443 not in _ports(policy)


def test_extra_egress_of_the_defaults_and_of_one_pool(renders: dict[str, Render]) -> None:
    render = renders["extensions"]
    for pool in TOPOLOGY.pools:
        ports = _ports(_policy(render, pool.name))
        assert 4317 in ports, pool.name
        assert (8443 in ports) == (pool.name == "external-api"), pool.name


def test_every_pool_has_its_own_policy(renders: dict[str, Render]) -> None:
    for name in ("default", *CI_VALUES):
        selected = {
            p["spec"]["podSelector"]["matchLabels"].get("switchyard/pool")
            for p in renders[name].of_kind("NetworkPolicy")
        } - {None}
        assert selected == {p.name for p in TOPOLOGY.pools}
