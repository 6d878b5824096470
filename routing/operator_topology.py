"""The broker declarations as data for the Messaging Topology Operator.

On Kubernetes with `rabbitmq.cluster.enabled`, the chart renders one `Exchange`, `Queue`,
`Binding`, `User`, `Permission` and `TopicPermission` object per entity, so the cluster's
operator declares them and declares them again after a broker restart. Helm cannot import
Python, so this module turns the same kombu entities `switchyard topology declare` declares
(`broker_entities`) and the same pool permissions (`pool_permissions`) into plain data the
chart reads from its generated `files/topology.json`. Nothing here builds an argument:
queue arguments come from the one builder through the kombu entities.

What this leaves to `switchyard topology declare` (the chart's hook Job): Celery's delay
exchanges and queues and the delayed-delivery bindings, which kombu builds itself.
"""

from __future__ import annotations

import re
from typing import Any

from kombu import Exchange, Queue

from routing.entities import broker_entities
from routing.model import Topology, TopologyError
from routing.permissions import pool_permissions

# The operator's objects all live in the cluster's default vhost.
OPERATOR_VHOST = "/"
_NOT_IN_A_NAME = re.compile(r"[^a-z0-9.-]+")


def resource_name(kind: str, name: str) -> str:
    """A Kubernetes object name (DNS subdomain) for a broker entity: `queue-media-heavy.dlq`.

    The chart prefixes it with the release name and keeps it within 63 characters."""
    slug = _NOT_IN_A_NAME.sub("-", name.lower()).strip("-.")
    return f"{kind}-{slug}" if slug else kind


def _exchange(exchange: Exchange) -> dict[str, Any]:
    return {
        "resource": resource_name("exchange", exchange.name),
        "name": exchange.name,
        "type": exchange.type,
        "durable": bool(exchange.durable),
        "autoDelete": bool(exchange.auto_delete),
        "arguments": dict(exchange.arguments or {}),
    }


def _queue(queue: Queue) -> dict[str, Any]:
    arguments = dict(queue.queue_arguments or {})
    return {
        "resource": resource_name("queue", queue.name),
        "name": queue.name,
        "type": arguments["x-queue-type"],
        "durable": bool(queue.durable),
        "autoDelete": bool(queue.auto_delete),
        "arguments": arguments,
    }


def _binding(queue: Queue) -> dict[str, Any]:
    return {
        "resource": resource_name("binding", queue.name),
        "source": queue.exchange.name,
        "destination": queue.name,
        "destinationType": "queue",
        "routingKey": queue.routing_key,
        "arguments": dict(queue.binding_arguments or {}),
    }


def operator_topology(topology: Topology) -> dict[str, Any]:
    """Exchanges, queues, bindings and pool users with their permissions, in the shape the
    Messaging Topology Operator's resources take.

    Raises:
        TopologyError: two entities would get the same Kubernetes object name.
    """
    entities = broker_entities(topology)
    queues = entities.all_queues
    exchanges: dict[str, Exchange] = {}
    for queue in queues:
        exchanges.setdefault(queue.exchange.name, queue.exchange)
    for exchange in exchanges.values():
        # The operator declares each object on its own: an alternate exchange must be one.
        alternate = (exchange.arguments or {}).get("alternate-exchange")
        if alternate is not None and alternate not in exchanges:
            raise TopologyError(f"exchange {exchange.name!r}: alternate {alternate!r} undeclared")
    users = []
    for pool in topology.pools:
        granted = pool_permissions(pool)
        users.append(
            {
                "resource": resource_name("user", pool.name),
                "pool": pool.name,
                "name": granted.user,
                "permissions": {
                    "configure": granted.configure,
                    "write": granted.write,
                    "read": granted.read,
                },
                "topicPermissions": [
                    {
                        "resource": resource_name("topic-permission", f"{pool.name}-{exchange}"),
                        "exchange": exchange,
                        "write": write,
                        "read": granted.topic_read,
                    }
                    for exchange, write in sorted(granted.topic_write.items())
                ],
            }
        )
    found = {
        "vhost": OPERATOR_VHOST,
        "exchanges": [_exchange(e) for e in exchanges.values()],
        "queues": [_queue(q) for q in queues],
        "bindings": [_binding(q) for q in queues],
        "users": users,
    }
    _check_unique_names(found)
    return found


def _check_unique_names(found: dict[str, Any]) -> None:
    for key in ("exchanges", "queues", "bindings", "users"):
        seen: dict[str, str] = {}
        for entry in found[key]:
            label = entry.get("name") or entry.get("destination")
            other = seen.setdefault(entry["resource"], label)
            if other != label:
                raise TopologyError(
                    f"{other!r} and {label!r} both become the Kubernetes object name "
                    f"{entry['resource']!r}; rename one of them"
                )
