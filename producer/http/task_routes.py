"""`POST /tasks/{task_name}` for every declared task, and `GET /tasks/{task_id}`.

One route per task is generated from the task's signature, so OpenAPI shows each task's
arguments and a request is checked before anything is published; a name that is not a
declared task is 404, naming the close ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from celery import states
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model

from producer.http.service import Service, service_of
from producer.http.submit import Accepted, PublishOptions, submit
from producer.results import Outcome
from producer.task_inputs import TaskInputs
from results.store import StoredState

WOKEN_BY_HEADER = "X-Result-Woken-By"


class TaskError(BaseModel):
    type: str | None
    message: str


class TaskState(BaseModel):
    """A task's state as the result backend holds it (PENDING: nothing stored yet)."""

    task_id: str
    state: str
    ready: bool
    result: Any = None
    error: TaskError | None = None
    date_done: datetime | None = None
    name: str | None = None
    queue: str | None = None
    retries: int | None = None


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, a thread
# hop per request for a dictionary lookup.
async def writer(request: Request) -> str:
    return service_of(request).tokens.client(request, write=True)


async def reader(request: Request) -> str:
    return service_of(request).tokens.client(request, write=False)


def tasks_router(
    tasks: Mapping[str, TaskInputs], body_models: Mapping[str, type[PublishOptions]]
) -> APIRouter:
    """The task routes; `body_models` by task name, as `request_model` builds them."""
    router = APIRouter(tags=["tasks"])
    for inputs in tasks.values():
        _add_task_route(router, inputs, body_models[inputs.name])

    @router.post("/tasks/{task_name}", status_code=202, response_model=Accepted)
    async def unknown_task(task_name: str, request: Request, _: str = Depends(writer)) -> None:
        """Any name that is not a declared task."""
        known = service_of(request).tasks
        close = difflib.get_close_matches(task_name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise HTTPException(404, f"no declared task {task_name!r}{hint}")

    @router.get("/tasks/{task_id}", response_model=TaskState)
    async def task_state(
        task_id: str,
        request: Request,
        wait: float = Query(
            0, ge=0, description="seconds to wait for a ready state; returns as soon as stored"
        ),
        _: str = Depends(reader),
    ) -> JSONResponse:
        """The task's state, result or error; with `wait`, woken by the database's NOTIFY."""
        service = service_of(request)
        if wait > service.settings.api_wait_max_s:
            raise HTTPException(
                422, f"wait {wait} exceeds the limit of {service.settings.api_wait_max_s} s"
            )
        if wait:
            outcome = await service.results.wait(task_id, wait)
        else:
            outcome = Outcome(await service.results.read(task_id), "stored")
        body = _state(task_id, outcome.state)
        return JSONResponse(
            body.model_dump(mode="json"), headers={WOKEN_BY_HEADER: outcome.woken_by}
        )

    return router


def request_model(inputs: TaskInputs) -> type[PublishOptions]:
    """The body of `POST /tasks/{name}` for one task: its arguments and the publish options."""
    arguments_required = any(f.is_required() for f in inputs.arguments.model_fields.values())
    model: type[PublishOptions] = create_model(
        inputs.arguments.__name__.removesuffix("Arguments") + "Request",
        __base__=PublishOptions,
        arguments=(inputs.arguments, ... if arguments_required else Field(default_factory=dict)),
    )
    return model


async def enqueue_task(
    service: Service, request: Request, client: str, inputs: TaskInputs, body: PublishOptions
) -> JSONResponse:
    """Publish one task from its validated body: the route's handler, and the fast path's."""
    arguments: BaseModel = getattr(body, "arguments", None) or inputs.arguments()
    kwargs = arguments.model_dump(mode="json")
    signature = request.app.state.celery.signature(inputs.name, kwargs=kwargs)
    options = PublishOptions(priority=body.priority, countdown=body.countdown)
    return await submit(
        service, request, client=client, task=inputs, signature=signature, payload=kwargs,
        options=options,
    )  # fmt: skip


def _add_task_route(
    router: APIRouter, inputs: TaskInputs, body_model: type[PublishOptions]
) -> None:
    async def enqueue(request: Request, body: Any, client: str = Depends(writer)) -> JSONResponse:
        return await enqueue_task(service_of(request), request, client, inputs, body)

    enqueue.__annotations__["body"] = body_model
    router.add_api_route(
        f"/tasks/{inputs.name}",
        enqueue,
        methods=["POST"],
        status_code=202,
        response_model=Accepted,
        summary=f"Enqueue {inputs.name} (queue {inputs.queue.name})",
        description=inputs.doc,
        name=f"enqueue {inputs.name}",
        responses={503: {"description": "broker unavailable; retry after Retry-After"}},
    )


def _state(task_id: str, stored: StoredState | None) -> TaskState:
    if stored is None:
        return TaskState(task_id=task_id, state=states.PENDING, ready=False)
    failed = stored.state in states.PROPAGATE_STATES
    return TaskState(
        task_id=task_id,
        state=stored.state,
        ready=stored.state in states.READY_STATES,
        result=None if failed else stored.result,
        error=_error(stored.result) if failed else None,
        date_done=stored.date_done,
        name=stored.name,
        queue=stored.queue,
        retries=stored.retries,
    )


def _error(result: Any) -> TaskError:
    if isinstance(result, dict):
        message = result.get("exc_message")
        if isinstance(message, list | tuple):
            message = ", ".join(str(part) for part in message)
        return TaskError(type=result.get("exc_type"), message=str(message or ""))
    return TaskError(type=None, message=str(result))
