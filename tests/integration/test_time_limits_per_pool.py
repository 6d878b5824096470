"""Time limits in every pool kind, on the declared pools' real workers: the soft limit
raises in the task, the hard limit ends it, and either way the message is acknowledged
with the task stored as FAILURE (not requeued, not dead-lettered), and the pool goes on."""

from __future__ import annotations

from typing import Any

import pytest
from celery import states
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from kombu import Connection

from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from routing.names import dlq_name
from tests.integration.conftest import queue_depth, start_pool
from tests.tasks.faults import outstay_soft_limit
from tests.tasks.probes import echo

SOFT_S, HARD_S = 1, 2
# One declared pool of each kind that can enforce limits (solo is refused by the declaration).
POOLS_BY_KIND = {"inline": "default", "prefork": "media-heavy", "threads": "webhooks"}


def test_every_pool_kind_declared_is_covered() -> None:
    assert {p.kind for p in TOPOLOGY.pools} <= set(POOLS_BY_KIND)
    for kind, pool in POOLS_BY_KIND.items():
        assert TOPOLOGY.pool(pool).kind == kind


@pytest.mark.parametrize("kind", list(POOLS_BY_KIND))
def test_soft_and_hard_limits_hold_in_every_pool_kind(
    broker: Connection, supervisor: Supervisor, amqp: Any, kind: str
) -> None:
    pool = TOPOLOGY.pool(POOLS_BY_KIND[kind])
    (queue,) = pool.queues
    start_pool(supervisor, pool.name)
    soft = echo.apply_async(
        ("slow",), {"pause_s": 30}, queue=queue, soft_time_limit=SOFT_S, time_limit=HARD_S + 2
    )
    with pytest.raises(SoftTimeLimitExceeded):
        soft.get(timeout=30)
    # Catches its soft limit and keeps going (in one blocking call): only the hard one ends it.
    hard = outstay_soft_limit.apply_async(
        (8,), queue=queue, soft_time_limit=SOFT_S, time_limit=HARD_S
    )
    with pytest.raises(TimeLimitExceeded) as caught:
        hard.get(timeout=30)
    assert caught.value.args[0] == HARD_S  # the limit, not a clock reading
    assert hard.state == states.FAILURE
    assert echo.apply_async(("after",), queue=queue).get(timeout=30) == "after"
    assert all(p.alive for p in supervisor.processes), f"a {kind} worker exited"
    # Acknowledged: once the worker is gone (an unacknowledged message would be handed back
    # to the queue then), nothing waits in the queue or its dead-letter queue.
    supervisor.stop(timeout=30)
    assert queue_depth(amqp, queue) == 0
    assert queue_depth(amqp, dlq_name(queue)) == 0
