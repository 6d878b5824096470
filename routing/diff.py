"""Compare what the broker has with what the declaration says.

RabbitMQ refuses a redeclaration with other arguments only when someone redeclares; a
queue created by hand or by an older release sits there unnoticed until then. The diff
names every difference up front: missing or different queues and exchanges, and bindings
on the project's exchanges that are missing or unexpected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Exchange

from routing.entities import BrokerEntities
from routing.names import delayed_binding_key


@dataclass(frozen=True)
class LiveBroker:
    """The broker's view, as the management API lists it for one vhost."""

    queues: list[dict[str, Any]]
    exchanges: list[dict[str, Any]]
    bindings: list[dict[str, Any]]


def expected_exchanges(entities: BrokerEntities) -> dict[str, Exchange]:
    return {q.exchange.name: q.exchange for q in entities.all_queues}


def expected_bindings(entities: BrokerEntities) -> set[tuple[str, str, str]]:
    plain = {(q.exchange.name, q.name, q.routing_key or "") for q in entities.all_queues}
    delayed = {(q.exchange.name, q.name, delayed_binding_key(q.name)) for q in entities.work_queues}
    return plain | delayed


def diff(entities: BrokerEntities, live: LiveBroker) -> list[str]:
    """One line per difference; empty when the broker matches the declaration."""
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
    wanted = expected_bindings(entities)
    present = {
        (b["source"], b["destination"], b.get("routing_key", ""))
        for b in live.bindings
        if b.get("source") in ours
    }
    for source, dest, key in sorted(wanted - present):
        problems.append(f"missing binding {source} -> {dest} (key {key!r})")
    for source, dest, key in sorted(present - wanted):
        problems.append(f"unexpected binding {source} -> {dest} (key {key!r})")
    return problems


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
