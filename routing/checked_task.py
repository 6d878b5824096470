"""A Celery task base whose `apply_async` runs the publish checks first.

Celery's `before_task_publish` signal cannot refuse a message: Celery logs and swallows
what its receivers raise. The task class is the public place where a bad call can still
fail in the caller, with the caller's own traceback. Every way of sending a task through
its class goes through here: `delay`, `apply_async`, signatures, groups, chains, chords,
and `retry`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from routing.celery_settings import DeclaredRouter
from routing.model import Topology
from routing.publish_checks import check_publish


def declared_router(app: Celery) -> DeclaredRouter:
    """The app's `DeclaredRouter` (in `task_routes`)."""
    for router in app.conf.task_routes or ():
        if isinstance(router, DeclaredRouter):
            return router
    raise LookupError("the app has no DeclaredRouter in task_routes; see routing.celery_settings")


def declared_topology(app: Celery) -> Topology:
    """The topology the app routes with, so the checks and the routes can never come from
    two declarations."""
    return declared_router(app).topology


def _name(entity: Any) -> str | None:
    """A queue or exchange given as a kombu entity or as its name."""
    return entity if entity is None or isinstance(entity, str) else str(entity.name)


class PublishCheckedTask(Task[Any, Any]):
    """Refuses, before publishing, what the broker would drop, cap or park.

    Raises (from `apply_async`): `routing.publish_checks.PublishRefused` subclasses.
    """

    abstract = True

    def apply_async(  # noqa: PLR0917 - Celery's signature
        self,
        args: Any = None,
        kwargs: Any = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        topology = declared_topology(self.app)
        route = topology.route_for(self.name)
        priority = options.get("priority")
        if priority is None and route is not None:
            priority = route.priority
        check_publish(
            topology,
            queue=_name(options.get("queue")) or (route.queue if route else None),
            exchange=_name(options.get("exchange")),
            routing_key=options.get("routing_key"),
            priority=priority,
            args=args,
            kwargs=kwargs,
        )
        return super().apply_async(
            args, kwargs, task_id, producer, link, link_error, shadow, **options
        )
