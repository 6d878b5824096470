"""Celery's routing settings, derived from the declaration."""

from __future__ import annotations

from typing import Any

from routing import names
from routing.entities import broker_entities
from routing.model import Topology


class DeclaredRouter:
    """Celery router: a task goes to the queue of the first matching route.

    An explicit `queue=` or `priority=` in apply_async wins, as Celery merges the call's
    options over what a router returns.
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    def __call__(
        self, name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **_: Any
    ) -> dict[str, Any] | None:
        route = self.topology.route_for(name)
        if route is None:
            return None
        found: dict[str, Any] = {"queue": route.queue}
        if route.priority is not None:
            found["priority"] = route.priority
        return found


def routing_settings(topology: Topology) -> dict[str, Any]:
    """`task_queues`, `task_routes` and the defaults, for `app.conf.update`."""
    entities = broker_entities(topology)
    return {
        "task_queues": list(entities.work_queues),
        "task_routes": (DeclaredRouter(topology),),
        "task_default_queue": topology.default_queue,
        "task_default_exchange": names.TASK_EXCHANGE,
        "task_default_exchange_type": "topic",
        "task_default_routing_key": topology.default_queue,
        "task_create_missing_queues": False,
    }
