"""Kubernetes object names for the operators' resources, derived from broker entity names."""

from __future__ import annotations

import pytest

from routing.model import PoolSpec, QueueSpec, Route, Topology, TopologyError
from routing.operator_topology import operator_topology, resource_name


def _topology(*queues: str) -> Topology:
    return Topology(
        queues=tuple(QueueSpec(q) for q in queues),
        routes=(Route("t.x", queues[0]),),
        pools=tuple(PoolSpec(f"p{i}", queues=(q,)) for i, q in enumerate(queues)),
        default_queue=queues[0],
    )


def test_entity_names_become_dns_subdomain_names() -> None:
    assert resource_name("queue", "media_heavy.dlq") == "queue-media-heavy.dlq"
    assert resource_name("exchange", "Switchyard.Tasks") == "exchange-switchyard.tasks"
    assert resource_name("topic-permission", "p-celery_delayed_27") == (
        "topic-permission-p-celery-delayed-27"
    )


def test_two_queues_with_the_same_object_name_are_refused_by_name() -> None:
    with pytest.raises(
        TopologyError, match=r"'a_b.dlq' and 'a-b.dlq' both become .*'queue-a-b.dlq'"
    ):
        operator_topology(_topology("a_b", "a-b"))


def test_every_queue_gets_its_binding_and_every_pool_its_user() -> None:
    found = operator_topology(_topology("a", "b"))
    work = [b for b in found["bindings"] if b["source"] == "switchyard.tasks"]
    assert [(b["destination"], b["routingKey"]) for b in work] == [("a", "a"), ("b", "b")]
    assert [u["name"] for u in found["users"]] == ["switchyard-pool-p0", "switchyard-pool-p1"]
