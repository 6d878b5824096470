"""What a pool's broker user may touch, as regexes RabbitMQ will apply."""

from __future__ import annotations

import re

import pytest
from kombu.transport.native_delayed_delivery import MAX_NUMBER_OF_BITS_TO_USE

from ops.broker_users import PoolUserError, grant_pool_users, pool_broker_url
from routing import names
from routing.management_api import ManagementAPI
from routing.model import PoolSpec, QueueSpec, Route, Topology, TopologyError
from routing.names import DELAY_ENTRY_EXCHANGE
from routing.permissions import pool_permissions

DELAY = "1." + "0." * (MAX_NUMBER_OF_BITS_TO_USE - 1)
TOPOLOGY = Topology(
    queues=(QueueSpec("a"), QueueSpec("b"), QueueSpec("a2")),
    routes=(Route("t.a", "a"), Route("t.b", "b")),
    pools=(
        PoolSpec("pa", queues=("a",)),
        PoolSpec("pb", queues=("b",), sends_to=("a",)),
        PoolSpec("pa2", queues=("a2",)),
    ),
    default_queue="a",
)


def allowed(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ's permission match: unanchored


def test_user_name_is_derived_from_the_pool() -> None:
    assert pool_permissions(TOPOLOGY.pool("pa")).user == names.pool_broker_user("pa")


def test_task_publishes_only_under_own_routing_keys() -> None:
    topic = pool_permissions(TOPOLOGY.pool("pa")).topic_write
    assert allowed(topic[names.TASK_EXCHANGE], "a")
    assert not allowed(topic[names.TASK_EXCHANGE], "b")
    assert not allowed(topic[names.TASK_EXCHANGE], "a2")  # a prefix is not the queue
    assert allowed(topic[DELAY_ENTRY_EXCHANGE], DELAY + "a")
    assert not allowed(topic[DELAY_ENTRY_EXCHANGE], DELAY + "b")
    assert not allowed(topic[DELAY_ENTRY_EXCHANGE], "a")


def test_sends_to_adds_routing_keys_but_not_consumption() -> None:
    granted = pool_permissions(TOPOLOGY.pool("pb"))
    assert allowed(granted.topic_write[names.TASK_EXCHANGE], "a")
    assert not allowed(granted.read, "a")
    assert not allowed(granted.configure, "a")


def test_control_queue_is_the_pools_own_node_only() -> None:
    granted = pool_permissions(TOPOLOGY.pool("pa"))
    assert allowed(granted.read, "pa@worker-7d9f.celery.pidbox")
    assert allowed(granted.configure, "pa@0.host.example.celery.pidbox")
    assert not allowed(granted.read, "pb@worker-7d9f.celery.pidbox")
    assert not allowed(granted.read, "pa2@worker-7d9f.celery.pidbox")


def test_no_dead_letter_queue_no_delay_level_but_the_entry() -> None:
    granted = pool_permissions(TOPOLOGY.pool("pa"))
    assert not allowed(granted.read, names.dlq_name("a"))
    assert allowed(granted.write, names.DEAD_LETTER_EXCHANGE)  # dead letters are republished
    assert allowed(granted.write, DELAY_ENTRY_EXCHANGE)
    assert not allowed(granted.write, "celery_delayed_3")
    assert not allowed(granted.configure, "celery_delayed_3")


def test_sends_to_an_unknown_queue_is_named() -> None:
    with pytest.raises(TopologyError, match="pool 'pb': sends_to unknown queue 'zz'"):
        Topology(
            queues=(QueueSpec("a"), QueueSpec("b")),
            routes=(),
            pools=(PoolSpec("pa", queues=("a",)), PoolSpec("pb", queues=("b",), sends_to=("zz",))),
            default_queue="a",
        )


def test_pool_url_carries_the_pool_user_and_keeps_host_and_vhost() -> None:
    url = pool_broker_url("amqp://app:secret@rabbit:5672/prod", "pa", "p/w")
    assert url == f"amqp://{names.pool_broker_user('pa')}:p%2Fw@rabbit:5672/prod"


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ({"nope": "amqp://x:y@h/v"}, "unknown pool 'nope'"),
        ({"pa": "amqp://someone:y@h/v"}, "names user 'someone'; it must be"),
        ({"pa": f"amqp://{names.pool_broker_user('pa')}@h/v"}, "has no password"),
    ],
)
def test_pool_urls_that_do_not_fit_are_refused_before_any_call(
    urls: dict[str, str], message: str
) -> None:
    unreachable = ManagementAPI("http://u:p@127.0.0.1:9")
    with pytest.raises(PoolUserError, match=message):
        grant_pool_users(unreachable, "v", TOPOLOGY, urls)
