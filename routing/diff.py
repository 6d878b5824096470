"""Compare what the broker has with what the declaration says.

RabbitMQ refuses a redeclaration with other arguments only when someone redeclares; a
queue created by hand or by an older release sits there unnoticed until then. The diff
names every difference up front: missing or different queues and exchanges, bindings on
the project's exchanges that are missing or unexpected, and what the declaration no longer
has: leftover queues, exchanges and pool users (`leftovers`, which `topology prune` removes).

Celery's own entities are not leftovers: its control and event exchanges, the native
delayed-delivery exchanges and queues, and the auto-delete queues every worker and client
declares for itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kombu import Exchange

from routing import names
from routing.entities import BrokerEntities
from routing.names import delayed_binding_key
from routing.permissions import CONTROL_EXCHANGE, CONTROL_REPLY_EXCHANGE, EVENT_EXCHANGE

# Exchanges Celery or kombu declare themselves; never the declaration's to remove.
CELERY_EXCHANGES = frozenset(
    {CONTROL_EXCHANGE, CONTROL_REPLY_EXCHANGE, EVENT_EXCHANGE, *names.DELAY_EXCHANGES}
)
POOL_USER_PREFIX = names.pool_broker_user("")


@dataclass(frozen=True)
class LiveBroker:
    """The broker's view, as the management API lists it for one vhost."""

    queues: list[dict[str, Any]]
    exchanges: list[dict[str, Any]]
    bindings: list[dict[str, Any]]
    users: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Leftovers:
    """What the broker has and the declaration no longer does."""

    queues: dict[str, int]  # name -> messages it holds (ready and unacknowledged)
    exchanges: tuple[str, ...]
    bindings: tuple[tuple[str, str, str], ...]  # (exchange, queue, routing key)
    users: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.queues or self.exchanges or self.bindings or self.users)

    def lines(self) -> list[str]:
        out = [f"leftover queue {q!r} ({n} message(s))" for q, n in sorted(self.queues.items())]
        out += [f"leftover exchange {e!r}" for e in self.exchanges]
        out += [f"unexpected binding {s} -> {d} (key {k!r})" for s, d, k in self.bindings]
        out += [f"leftover pool user {u!r}" for u in self.users]
        return out


def expected_exchanges(entities: BrokerEntities) -> dict[str, Exchange]:
    return {q.exchange.name: q.exchange for q in entities.all_queues}


def expected_bindings(entities: BrokerEntities) -> set[tuple[str, str, str]]:
    plain = {(q.exchange.name, q.name, q.routing_key or "") for q in entities.all_queues}
    delayed = {(q.exchange.name, q.name, delayed_binding_key(q.name)) for q in entities.work_queues}
    return plain | delayed


def leftovers(
    entities: BrokerEntities, live: LiveBroker, pool_users: frozenset[str] | None
) -> Leftovers:
    """Queues, exchanges, bindings on the project's exchanges and pool users that the
    broker has and the declaration (with `pool_users`, the users its pools connect as;
    None: users are not compared) does not."""
    declared_queues = {q.name for q in entities.all_queues}
    queues = {
        q["name"]: int(q.get("messages", 0) or 0)
        for q in live.queues
        if q["name"] not in declared_queues
        and q["name"] not in names.DELAY_EXCHANGES  # each delay level: a queue, same name
        and q.get("durable", False)
        and not q.get("auto_delete", False)
        and not q.get("exclusive", False)
    }
    ours = set(expected_exchanges(entities))
    exchanges = tuple(
        sorted(
            e["name"]
            for e in live.exchanges
            if e["name"]
            and not e["name"].startswith("amq.")
            and e["name"] not in ours
            and e["name"] not in CELERY_EXCHANGES
        )
    )
    present = {
        (b["source"], b["destination"], b.get("routing_key", ""))
        for b in live.bindings
        if b.get("source") in ours and b.get("destination_type", "queue") == "queue"
    }
    # A leftover queue's bindings go with it; only bindings to declared queues are listed.
    bindings = tuple(sorted(b for b in present - expected_bindings(entities) if b[1] not in queues))
    users = tuple(
        sorted(
            u["name"]
            for u in live.users
            if pool_users is not None
            and u["name"].startswith(POOL_USER_PREFIX)
            and u["name"] not in pool_users
        )
    )
    return Leftovers(queues, exchanges, bindings, users)


def diff(
    entities: BrokerEntities, live: LiveBroker, pool_users: frozenset[str] | None = None
) -> list[str]:
    """One line per difference; empty when the broker matches the declaration.

    With `pool_users` (the users the declaration's pools connect as) users are compared
    too: a missing one, and a pool user no pool connects as any more."""
    problems: list[str] = []
    live_queues = {q["name"]: q for q in live.queues}
    for queue in entities.all_queues:
        found = live_queues.get(queue.name)
        if found is None:
            problems.append(f"missing queue {queue.name!r}")
            continue
        problems += _arguments(
            f"queue {queue.name!r}", queue.queue_arguments or {}, found.get("arguments") or {}
        )
        if not found.get("durable", False):
            problems.append(f"queue {queue.name!r}: not durable on the broker")

    live_exchanges = {e["name"]: e for e in live.exchanges}
    for name, exchange in expected_exchanges(entities).items():
        found = live_exchanges.get(name)
        if found is None:
            problems.append(f"missing exchange {name!r}")
            continue
        if found.get("type") != exchange.type:
            problems.append(
                f"exchange {name!r}: type {found.get('type')!r} on the broker, "
                f"{exchange.type!r} declared"
            )
        problems += _arguments(
            f"exchange {name!r}", exchange.arguments or {}, found.get("arguments") or {}
        )

    ours = set(expected_exchanges(entities))
    present = {
        (b["source"], b["destination"], b.get("routing_key", ""))
        for b in live.bindings
        if b.get("source") in ours
    }
    for source, dest, key in sorted(expected_bindings(entities) - present):
        problems.append(f"missing binding {source} -> {dest} (key {key!r})")
    if pool_users is not None:
        existing = {u["name"] for u in live.users}
        problems += [f"missing pool user {u!r}" for u in sorted(pool_users - existing)]
    return problems + leftovers(entities, live, pool_users).lines()


def _arguments(what: str, declared: dict[str, Any], live: dict[str, Any]) -> list[str]:
    lines = []
    for key in sorted(declared.keys() | live.keys()):
        if key not in live:
            lines.append(f"{what}: argument {key}={declared[key]!r} declared, absent on the broker")
        elif key not in declared:
            lines.append(f"{what}: argument {key}={live[key]!r} on the broker, not declared")
        elif declared[key] != live[key]:
            lines.append(
                f"{what}: argument {key} is {live[key]!r} on the broker, {declared[key]!r} declared"
            )
    return lines
