"""What a task accepts over HTTP, derived from its Python signature and the declaration.

Each task's arguments become a pydantic model from its parameters and type hints, so a
request is checked (and refused with the field named) before anything is published. The
publish options a request may set, priority and countdown, are checked against the queue
the declaration routes the task to: a priority on a queue without priorities, or outside
its range, is refused instead of being silently clamped by the broker.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from celery import Task
from kombu.transport.native_delayed_delivery import MAX_NUMBER_OF_BITS_TO_USE
from pydantic import BaseModel, ConfigDict, create_model

from routing.model import QueueSpec, Topology

# Celery's native delayed delivery counts a delay in this many bits of seconds.
MAX_COUNTDOWN_S = 2**MAX_NUMBER_OF_BITS_TO_USE - 1


class OptionError(ValueError):
    """A publish option does not fit the task's queue; `field` names the option."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TaskInputs:
    """One task as the API offers it: its name, queue, and arguments model."""

    name: str
    queue: QueueSpec
    arguments: type[BaseModel]
    doc: str

    def check_options(self, priority: int | None, countdown: float | None) -> None:
        """Refuse options the queue cannot honour.

        Raises:
            OptionError: naming `priority` or `countdown` and the queue's limit.
        """
        if priority is not None:
            top = self.queue.max_priority
            if top is None:
                raise OptionError(
                    "priority", f"queue {self.queue.name!r} of {self.name} has no priorities"
                )
            if not 0 <= priority <= top:
                raise OptionError(
                    "priority",
                    f"priority {priority} is outside 0-{top} of queue {self.queue.name!r}",
                )
        if countdown is not None and not 0 <= countdown <= MAX_COUNTDOWN_S:
            raise OptionError(
                "countdown", f"countdown {countdown} is outside 0-{MAX_COUNTDOWN_S} seconds"
            )


def arguments_model(task: Task[Any, Any]) -> type[BaseModel]:
    """A model of the task's keyword arguments: its parameters, hints and defaults.

    A bound task's `self` is not an argument; `*args`/`**kwargs` are not offered (a JSON
    object names every argument).
    """
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(task.run, eval_str=True).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = Any if parameter.annotation is parameter.empty else parameter.annotation
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    title = "".join(part.title() for part in task.name.rsplit(".", 1)[-1].split("_"))
    model: type[BaseModel] = create_model(
        f"{title}Arguments",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"Arguments of {task.name}.",
        **fields,
    )
    return model


def declared_tasks(tasks: dict[str, Task[Any, Any]], topology: Topology) -> list[TaskInputs]:
    """Every registered task a route of the declaration sends to a queue, by name."""
    offered = []
    for name in sorted(tasks):
        route = topology.route_for(name)
        if route is None or name.startswith("celery."):
            continue
        task = tasks[name]
        offered.append(
            TaskInputs(
                name=name,
                queue=topology.queue(route.queue),
                arguments=arguments_model(task),
                doc=inspect.getdoc(task.run) or "",
            )
        )
    return offered
