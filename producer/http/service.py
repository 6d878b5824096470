"""What the HTTP handlers share: the publisher thread, the result waiter, the key table,
the tasks on offer and the tokens; started and stopped with the application."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from celery import Celery
from fastapi import FastAPI, Request

from config.settings import Settings
from producer.http.auth import Tokens
from producer.http.observe import watch_loop_lag
from producer.idempotency import IdempotencyKeys
from producer.publisher import AsyncPublisher
from producer.results import ResultWaiter
from producer.task_inputs import TaskInputs, declared_tasks
from routing.declaration import TOPOLOGY


@dataclass
class Service:
    settings: Settings
    publisher: AsyncPublisher
    results: ResultWaiter
    keys: IdempotencyKeys
    tasks: dict[str, TaskInputs]
    tokens: Tokens


def build_service(celery: Celery, settings: Settings) -> Service:
    """Everything the API needs, nothing started yet.

    Raises:
        ValueError: no usable token is configured.
        SettingsError: the broker or database URL is missing.
    """
    settings.require("broker_url", "database_url")
    tokens = Tokens(settings.api_tokens, settings.api_read_tokens)
    celery.loader.import_default_modules()
    broker_url = settings.with_failover(settings.api_broker_url or settings.broker_url)

    def connect() -> Any:
        return celery.connection_for_write(url=broker_url)

    results = ResultWaiter(settings.database_url)
    return Service(
        settings=settings,
        publisher=AsyncPublisher(celery, connect),
        results=results,
        keys=IdempotencyKeys(results.pool, settings.api_idempotency_ttl_s),
        tasks={t.name: t for t in declared_tasks(dict(celery.tasks), TOPOLOGY)},
        tokens=tokens,
    )


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[None]:
    """Start the publisher thread, the listener and the loop-lag probe; stop them after."""
    service.publisher.start()
    await service.results.start()
    lag = asyncio.create_task(watch_loop_lag(), name="switchyard-loop-lag")
    try:
        yield
    finally:
        lag.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lag
        await asyncio.to_thread(service.publisher.stop)
        await service.results.stop()


def service_of(request: Request) -> Service:
    app: FastAPI = request.app
    service: Service = app.state.service
    return service
