"""Enqueue one request's task: options checked, idempotency key honoured, 202 or 503.

Every endpoint that enqueues ends here, so each answers the same way: 202 with the task id
and a `Location` to its state once the broker confirmed the message; 422 naming the field
when the task's queue cannot honour an option; 503 with `Retry-After` when the broker
refused the message or cannot be reached (the client retries; with its Idempotency-Key the
retry re-publishes the same task id).
"""

from __future__ import annotations

import time
from typing import Any

from celery import Signature
from celery.utils import uuid
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import EncodeError
from pydantic import BaseModel, Field

from metrics import instruments as m
from producer.http.service import Service
from producer.idempotency import fingerprint
from producer.publisher import BrokerUnavailable
from producer.task_inputs import OptionError, TaskInputs

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class PublishOptions(BaseModel):
    """How the message is published; checked against the task's declared queue."""

    priority: int | None = Field(
        default=None, description="0 to the queue's max_priority; only on priority queues"
    )
    countdown: float | None = Field(
        default=None, description="run no earlier than this many seconds from now"
    )


class Accepted(BaseModel):
    """The task was published and the broker confirmed it."""

    task_id: str
    task: str
    status_url: str
    replayed: bool = Field(description="true when an Idempotency-Key repeat found this task")


def option_error(field: str, message: str, value: Any) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the body field at fault."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", field), "msg": message, "input": value}]
    )


async def submit(
    service: Service,
    request: Request,
    *,
    client: str,
    task: TaskInputs,
    signature: Signature[Any],
    payload: Any,
    options: PublishOptions,
) -> JSONResponse:
    """Publish `signature` as `task` for `client`; `payload` identifies the request."""
    try:
        task.check_options(options.priority, options.countdown)
    except OptionError as exc:
        raise option_error(exc.field, str(exc), getattr(options, exc.field)) from None
    publish = options.model_dump(exclude_none=True)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    task_id = uuid()
    if key is not None:
        if not 0 < len(key) <= MAX_KEY_LENGTH:
            raise HTTPException(400, f"{IDEMPOTENCY_HEADER} must be 1-{MAX_KEY_LENGTH} characters")
        claim = await service.keys.claim(
            client, key, fingerprint(task.name, [payload, publish]), task_id
        )
        if claim.outcome == "mismatch":
            raise HTTPException(
                422, f"{IDEMPOTENCY_HEADER} {key!r} was already used with a different request"
            )
        if claim.outcome == "in_progress":
            raise HTTPException(
                409,
                f"a request with {IDEMPOTENCY_HEADER} {key!r} is being published",
                headers={"Retry-After": "1"},
            )
        if claim.outcome == "replay":
            return _accepted(task, claim.task_id, replayed=True)
        task_id = claim.task_id
    started = time.perf_counter()
    try:
        await service.publisher.enqueue(signature.set(task_id=task_id, **publish))
    except BrokerUnavailable as exc:
        if key is not None:
            await service.keys.settle(client, key, task_id, published=False)
        raise HTTPException(
            503,
            f"the task was not enqueued: {exc}; retry later",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    except (TypeError, EncodeError) as exc:
        if key is not None:
            await service.keys.settle(client, key, task_id, published=False)
        raise HTTPException(422, f"the arguments do not fit {task.name}: {exc}") from None
    m.api_enqueue.labels(task.name).observe(time.perf_counter() - started)
    if key is not None:
        await service.keys.settle(client, key, task_id, published=True)
    return _accepted(task, task_id, replayed=False)


def _accepted(task: TaskInputs, task_id: str, *, replayed: bool) -> JSONResponse:
    location = f"/tasks/{task_id}"
    body = Accepted(task_id=task_id, task=task.name, status_url=location, replayed=replayed)
    headers = {"Location": location}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return JSONResponse(body.model_dump(), status_code=202, headers=headers)
