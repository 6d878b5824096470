"""`topology diff` sees what the declaration no longer has; prune plans what to do with it.

The live broker is given as the management API lists it; the broker itself is exercised by
tests/integration/test_adding_a_queue.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from ops.prune import PrunePlan, PruneRefused
from routing import names
from routing.declaration import TOPOLOGY
from routing.diff import LiveBroker, diff, expected_bindings, expected_exchanges, leftovers
from routing.entities import broker_entities

ENTITIES = broker_entities(TOPOLOGY)
POOL_USERS = frozenset(names.pool_broker_user(p.name) for p in TOPOLOGY.pools)


def _queue(name: str, messages: int = 0, **flags: Any) -> dict[str, Any]:
    return {"name": name, "durable": True, "arguments": {}, "messages": messages, **flags}


def _matching() -> LiveBroker:
    """A broker exactly as declared, with Celery's own entities beside it."""
    queues = [
        {"name": q.name, "durable": True, "arguments": q.queue_arguments or {}, "messages": 0}
        for q in ENTITIES.all_queues
    ]
    queues += [
        _queue("celery_delayed_3"),
        _queue("default@host.celery.pidbox", auto_delete=True),
        _queue("celeryev.1234", auto_delete=True),
    ]
    exchanges = [
        {"name": n, "type": e.type, "arguments": e.arguments or {}}
        for n, e in expected_exchanges(ENTITIES).items()
    ]
    exchanges += [{"name": n, "type": "topic", "arguments": {}} for n in ("", "amq.topic")]
    exchanges += [
        {"name": n, "type": "topic", "arguments": {}}
        for n in ("celery.pidbox", "reply.celery.pidbox", "celeryev", "celery_delayed_27")
    ]
    bindings = [
        {"source": s, "destination": d, "routing_key": k, "destination_type": "queue"}
        for s, d, k in expected_bindings(ENTITIES)
    ]
    users = [{"name": u} for u in POOL_USERS] + [{"name": "switchyard"}]
    return LiveBroker(queues, exchanges, bindings, users)


def test_a_broker_as_declared_has_no_leftovers_and_no_difference() -> None:
    live = _matching()
    assert not leftovers(ENTITIES, live, POOL_USERS)
    assert diff(ENTITIES, live, POOL_USERS) == []


def test_leftover_queues_exchanges_bindings_and_users_are_each_named() -> None:
    live = _matching()
    live.queues.append(_queue("thumbnails", messages=7))
    live.queues.append(_queue("thumbnails.dlq"))
    live.exchanges.append({"name": "old.exchange", "type": "direct", "arguments": {}})
    live.bindings.append(
        {"source": names.TASK_EXCHANGE, "destination": "thumbnails", "routing_key": "thumbnails"}
    )
    live.bindings.append(
        {"source": names.TASK_EXCHANGE, "destination": "default", "routing_key": "old-key"}
    )
    live.users.append({"name": names.pool_broker_user("thumbnails")})
    lines = diff(ENTITIES, live, POOL_USERS)
    assert lines == [
        "leftover queue 'thumbnails' (7 message(s))",
        "leftover queue 'thumbnails.dlq' (0 message(s))",
        "leftover exchange 'old.exchange'",
        "unexpected binding switchyard.tasks -> default (key 'old-key')",
        "leftover pool user 'switchyard-pool-thumbnails'",
    ]


def test_a_missing_pool_user_is_a_difference_and_users_are_skipped_without_pool_users() -> None:
    live = _matching()
    live.users.remove({"name": names.pool_broker_user("analytics")})
    live.users.append({"name": names.pool_broker_user("gone")})
    assert "missing pool user 'switchyard-pool-analytics'" in diff(ENTITIES, live, POOL_USERS)
    assert diff(ENTITIES, live, None) == []


def test_prune_refuses_a_queue_with_messages_unless_moved_or_forced() -> None:
    live = _matching()
    live.queues.append(_queue("thumbnails", messages=7))
    found = leftovers(ENTITIES, live, POOL_USERS)
    declared = {q.name for q in ENTITIES.all_queues}
    with pytest.raises(PruneRefused, match=r"'thumbnails' \(7\) still hold messages"):
        PrunePlan(found).check(declared)
    with pytest.raises(PruneRefused, match="'nowhere' is not a declared queue"):
        PrunePlan(found, move_to="nowhere").check(declared)
    moving = PrunePlan(found, move_to="default")
    moving.check(declared)
    assert moving.lines() == [
        "move 7 message(s) from 'thumbnails' to 'default'",
        "delete queue 'thumbnails'",
    ]
    forced = PrunePlan(found, force=True)
    forced.check(declared)
    assert forced.lines() == ["delete queue 'thumbnails' and its messages"]
