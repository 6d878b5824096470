"""Each pool's broker user reaches its own queues and nothing of another pool's.

Checked with pika, an AMQP client independent of the one Celery uses, against the users the
stack provisioned from `routing.permissions`. Workers of every other integration test run as
these users, so what they are allowed is exercised there; here is what they are refused.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import pytest
from kombu.transport.native_delayed_delivery import MAX_NUMBER_OF_BITS_TO_USE
from pika.exceptions import ChannelClosedByBroker

from config.settings import Settings
from ops import dlq
from ops.stack.manager import Stack
from ops.supervisor import Supervisor
from routing import names
from routing.declaration import TOPOLOGY
from routing.names import DELAY_ENTRY_EXCHANGE
from tests.integration.conftest import queue_depth, start_pool

ACCESS_REFUSED = 403
NO_DELAY = "0." * MAX_NUMBER_OF_BITS_TO_USE
GET_DEADLINE_S = 10.0


def pool_channel(settings: Settings, pool: str) -> AbstractContextManager[Any]:
    """A confirming channel of a connection as `pool`'s own broker user."""
    return dlq.channel(settings.pool_broker_urls[pool])


def refused(settings: Settings, pool: str, action: str, *args: Any) -> int:
    """The reply code the broker closes the channel with when `pool`'s user tries `action`."""
    with pool_channel(settings, pool) as channel:
        try:
            getattr(channel, action)(*args)
        except ChannelClosedByBroker as exc:
            return int(exc.reply_code)
    return 0


def get_one(channel: Any, queue: str) -> bytes | None:
    """The next message of `queue`, acknowledged, waiting for it a little."""
    channel.connection.sleep(0)
    for _ in range(int(GET_DEADLINE_S / 0.05)):
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is not None:
            return bytes(body)
        channel.connection.sleep(0.05)
    return None


@pytest.fixture(autouse=True)
def _pool_users_configured(stack: Stack, settings: Settings) -> None:
    if stack.external_broker and not settings.pool_broker_urls:
        pytest.skip("external broker without SWITCHYARD_POOL_BROKER_URLS: no pool users to test")


def test_every_pool_has_a_user(settings: Settings) -> None:
    assert sorted(settings.pool_broker_urls) == sorted(p.name for p in TOPOLOGY.pools)


@pytest.mark.parametrize("pool", [p.name for p in TOPOLOGY.pools])
def test_pool_user_publishes_to_its_queues_directly_and_delayed(
    settings: Settings, amqp: Any, pool: str
) -> None:
    queue = TOPOLOGY.pool(pool).queues[0]
    amqp.queue_purge(queue)  # nothing consumes it now; what is left is earlier work's
    with pool_channel(settings, pool) as channel:
        assert queue_depth(channel, queue) == 0
        channel.basic_publish(names.TASK_EXCHANGE, queue, b"direct", mandatory=True)
        assert get_one(channel, queue) == b"direct"
        channel.basic_publish(DELAY_ENTRY_EXCHANGE, NO_DELAY + queue, b"delayed")
        assert get_one(channel, queue) == b"delayed"


@pytest.mark.parametrize("pool", [p.name for p in TOPOLOGY.pools])
def test_pool_user_is_refused_every_other_pools_queue(settings: Settings, pool: str) -> None:
    others = [q.name for q in TOPOLOGY.queues if q.name not in TOPOLOGY.pool(pool).queues]
    for other in others:
        where = f"{pool} -> {other}"
        publish = ("basic_publish", names.TASK_EXCHANGE, other, b"x")
        assert refused(settings, pool, *publish) == ACCESS_REFUSED, f"publish {where}"
        delayed = ("basic_publish", DELAY_ENTRY_EXCHANGE, NO_DELAY + other, b"x")
        assert refused(settings, pool, *delayed) == ACCESS_REFUSED, f"delayed publish {where}"
        default_exchange = ("basic_publish", "", other, b"x")
        assert refused(settings, pool, *default_exchange) == ACCESS_REFUSED, f"amq.default {where}"
        assert refused(settings, pool, "basic_get", other) == ACCESS_REFUSED, f"consume {where}"
        passive = ("queue_declare", other)
        assert refused(settings, pool, *passive) == ACCESS_REFUSED, f"declare {where}"


def test_pool_user_cannot_read_dead_letters_or_manage_users(settings: Settings) -> None:
    pool = TOPOLOGY.pools[0]
    dlq = names.dlq_name(pool.queues[0])
    assert refused(settings, pool.name, "basic_get", dlq) == ACCESS_REFUSED
    assert refused(settings, pool.name, "exchange_declare", "intruder", "fanout") == ACCESS_REFUSED


@pytest.mark.parametrize("countdown", [1, 2], ids=["via-delivery-exchange", "via-level-0"])
def test_a_delayed_task_retried_at_once_stays_within_its_users_rights(
    supervisor: Supervisor, countdown: int
) -> None:
    """Arrived through the delay exchanges, then retried without a countdown: Celery would
    republish to the exchange it came from (the delay delivery exchange after 1 s, the
    level-0 delay exchange after 2 s), which a pool user may not write to."""
    from tests.tasks.probes import retry_at_once

    start_pool(supervisor, TOPOLOGY.pool_of_queue(TOPOLOGY.default_queue).name)
    result = retry_at_once.apply_async(args=(2,), countdown=countdown)
    assert result.get(timeout=60) == 2
