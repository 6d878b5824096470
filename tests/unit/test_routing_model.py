"""The declaration is checked on load, and every error names the entry at fault."""

from __future__ import annotations

import pytest

from routing.declaration import TOPOLOGY
from routing.egress import HTTPS, Egress
from routing.model import PoolSpec, QueueSpec, Route, Topology, TopologyError


def _topology(**overrides: object) -> Topology:
    fields: dict[str, object] = {
        "default_queue": "a",
        "queues": (QueueSpec("a"), QueueSpec("b", type="classic", max_priority=5)),
        "routes": (Route("t.a", "a"), Route("t.b.*", "b", priority=3)),
        "pools": (PoolSpec("pa", queues=("a",)), PoolSpec("pb", queues=("b",))),
    }
    fields.update(overrides)
    return Topology(**fields)  # type: ignore[arg-type]


def test_the_project_declaration_loads() -> None:
    assert TOPOLOGY.route_for("tasks.demo.add") is not None


def test_route_to_unknown_queue_is_named() -> None:
    with pytest.raises(TopologyError, match=r"route 't\.x': unknown queue 'nope'"):
        _topology(routes=(Route("t.x", "nope"),))


def test_queue_without_pool_is_named() -> None:
    with pytest.raises(TopologyError, match="queue 'b' has no pool"):
        _topology(pools=(PoolSpec("pa", queues=("a",)),))


def test_priority_out_of_queue_range_is_named() -> None:
    with pytest.raises(TopologyError, match=r"route 't\.b\.\*': priority 9 outside 0-5"):
        _topology(routes=(Route("t.b.*", "b", priority=9),))


def test_max_priority_out_of_amqp_range() -> None:
    with pytest.raises(TopologyError, match="max_priority 300 outside 1-255"):
        QueueSpec("x", type="classic", max_priority=300)


def test_priority_on_quorum_queue_is_refused() -> None:
    with pytest.raises(TopologyError, match="priorities need a classic queue"):
        QueueSpec("x", type="quorum", max_priority=5)


def test_time_limit_reaching_consumer_timeout_is_named() -> None:
    slow = PoolSpec("pa", queues=("a",), soft_time_limit_s=100, time_limit_s=1800)
    with pytest.raises(TopologyError, match="pool 'pa': time_limit_s 1800 reaches"):
        _topology(pools=(slow, PoolSpec("pb", queues=("b",))))


def test_project_declaration_checked_against_a_lower_consumer_timeout() -> None:
    with pytest.raises(TopologyError, match="reaches the broker's consumer_timeout"):
        TOPOLOGY.check_time_limits(60)


def test_a_queue_consumed_by_two_pools_is_refused() -> None:
    with pytest.raises(TopologyError, match="consumed by pools 'pa' and 'pb'"):
        _topology(pools=(PoolSpec("pa", queues=("a", "b")), PoolSpec("pb", queues=("b",))))


def test_first_matching_route_wins() -> None:
    topo = _topology()
    assert topo.route_for("t.b.anything") == Route("t.b.*", "b", priority=3)
    assert topo.route_for("unrouted") is None


@pytest.mark.parametrize(
    ("egress", "message"),
    [
        (lambda: Egress("api", ports=()), "egress 'api': opens no port"),
        (lambda: Egress("api", ports=(70000,)), "egress 'api': port 70000 outside 1-65535"),
        (lambda: Egress("api", ports=(443,), cidrs=("10.0.0.0/33",)), "is not a CIDR"),
        (
            lambda: PoolSpec("p", queues=("q",), egress=(HTTPS, HTTPS)),
            "egress 'https' is declared twice",
        ),
    ],
)
def test_a_bad_egress_is_refused_with_its_name(egress: object, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        egress()  # type: ignore[operator]
