"""`POST /tasks/{name}` in its common case, without FastAPI's per-request machinery.

On a 2-core machine FastAPI and Starlette took most of the loop's time per enqueue: route
matching over one route per task, dependency solving, body parsing and validation through
FastAPI's generic layers. This ASGI middleware answers the common case of the generated
task routes itself: a declared task's path, a JSON body, a writer's token, no
`Idempotency-Key`, options the queue honours. It validates the body with the same pydantic
model the route declares and enqueues with the same function (`enqueue_task`), so the
answer, the message and the metrics are the route's. Anything else (a bad token, a body
that does not validate, a key to claim) is handed to FastAPI with the body it read, and
FastAPI answers as it always does, so every error keeps one source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producer.http.service import Service
from producer.http.submit import IDEMPOTENCY_HEADER, PublishOptions
from producer.http.task_routes import enqueue_task
from producer.task_inputs import OptionError, TaskInputs

_KEY_HEADER = IDEMPOTENCY_HEADER.lower().encode()
_JSON = b"application/json"


@dataclass(frozen=True)
class FastRoute:
    """One generated task route: the task, its body model, and the route metrics label."""

    inputs: TaskInputs
    body_model: type[PublishOptions]
    route: object  # the FastAPI route, set in the scope as routing would (metrics label it)


class FastEnqueue:
    """Answers the task routes' common case; hands everything else to `app` unchanged."""

    def __init__(self, app: ASGIApp, service: Service, routes: Mapping[str, FastRoute]) -> None:
        self.app = app
        self.service = service
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body, disconnected = await _read_body(receive)
        if disconnected or not self._plain(scope):
            await self.app(scope, _replay(body, receive), send)
            return
        request = Request(scope)
        try:
            client = self.service.tokens.client(request, write=True)
            parsed = route.body_model.model_validate_json(body)
            route.inputs.check_options(parsed.priority, parsed.countdown)
        except (HTTPException, ValidationError, OptionError):
            await self.app(scope, _replay(body, receive), send)  # FastAPI says what is wrong
            return
        scope["route"] = route.route
        response: Response
        try:
            response = await enqueue_task(self.service, request, client, route.inputs, parsed)
        except HTTPException as exc:  # 503 or 422 from the publish: answered as FastAPI does
            response = await http_exception_handler(request, exc)
        await response(scope, receive, send)

    @staticmethod
    def _plain(scope: Scope) -> bool:
        """A JSON body and no idempotency key: nothing to look up before publishing."""
        json = False
        for name, value in scope["headers"]:
            if name == _KEY_HEADER:
                return False
            if name == b"content-type":
                json = value.split(b";", 1)[0].strip().lower() == _JSON
        return json


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body, and whether the client went away meanwhile."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then the real one's messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

    return receive
