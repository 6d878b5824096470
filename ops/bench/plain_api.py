"""The baseline of `switchyard bench api`: the FastAPI handler users write first.

An `async def` endpoint that calls `.delay()` on a Celery app with Celery's stock settings
(`ops.bench.stock_app`), which is blocking I/O on the event loop. `STOCK_CONFIRMS=1` turns
on publisher confirms, as Switchyard's producer always has them, so the two compare at the
same guarantee. `STOCK_NO_PUBLISH=1` answers without publishing at all: the floor, what
FastAPI and uvicorn alone cost per request on the machine. It measures its own event-loop
lag the same way the producer API does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from celery.utils import uuid
from fastapi import FastAPI
from prometheus_client import start_http_server
from pydantic import BaseModel

from ops.bench.stock_app import app as stock
from producer.http.observe import watch_loop_lag

CONFIRMS_ENV = "STOCK_CONFIRMS"
NO_PUBLISH_ENV = "STOCK_NO_PUBLISH"
PUBLISH = os.environ.get(NO_PUBLISH_ENV) != "1"
METRICS_PORT_ENV = "STOCK_METRICS_PORT"

if os.environ.get(CONFIRMS_ENV) == "1":
    stock.conf.broker_transport_options = {"confirm_publish": True}


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    start_http_server(int(os.environ[METRICS_PORT_ENV]), addr="127.0.0.1")
    lag = asyncio.create_task(watch_loop_lag())
    yield
    lag.cancel()


TASK = "tasks.demo.add"  # the same name and arguments as the producer API is driven with


@stock.task(name=TASK, shared=False)  # this app only: the real task has the name elsewhere
def add(x: int, y: int) -> int:
    return x + y


app = FastAPI(lifespan=lifespan)


class Arguments(BaseModel):
    arguments: dict[str, Any]


@app.post(f"/tasks/{TASK}", status_code=202)
async def enqueue(body: Arguments) -> dict[str, str]:
    """What the seed's upload endpoint does: `.delay()` inside `async def`."""
    if not PUBLISH:
        return {"task_id": uuid()}
    return {"task_id": add.delay(**body.arguments).id}
