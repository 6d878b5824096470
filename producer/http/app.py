"""The producer API: a FastAPI application around the async publisher and result waiter.

`create_app` builds it from a Celery app and settings; `switchyard api` serves it with
uvicorn. OpenAPI is at `/docs`; `/healthz` says the process answers, `/readyz` that the
broker connection is up and the database answers, so a pod gets traffic only then.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from celery import Celery
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from psycopg_pool import PoolTimeout

from config.settings import Settings
from producer.http.fast_path import FastEnqueue, FastRoute
from producer.http.observe import RequestMetrics
from producer.http.seed_routes import router as seed_router
from producer.http.service import Service, build_service, running
from producer.http.submit import PublishOptions
from producer.http.task_routes import request_model, tasks_router
from producer.publisher import RETRY_AFTER_S

TITLE = "Switchyard producer API"
READY_CHECK_TIMEOUT_S = 2.0


def create_app(celery: Celery, settings: Settings) -> FastAPI:
    """The application; its publisher and listener start with uvicorn's lifespan."""
    service = build_service(celery, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(service):
            yield

    app = FastAPI(
        title=TITLE,
        description="Enqueue Celery tasks without blocking, and read or wait for their results.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.celery = celery
    body_models = {name: request_model(inputs) for name, inputs in service.tasks.items()}
    app.include_router(seed_router)
    task_router = tasks_router(service.tasks, body_models)
    app.include_router(task_router)
    fast_routes = _fast_routes(task_router, service, body_models)
    # Added first, so inside the metrics: a request the fast path answers is counted too.
    app.add_middleware(FastEnqueue, service=service, routes=fast_routes)
    app.add_middleware(RequestMetrics)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the result database is unavailable: {exc}; retry later"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """The process and its event loop answer."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"])
    async def readyz() -> JSONResponse:
        """Ready when the broker connection is up and the database answers."""
        problems = []
        if not service.publisher.connected:
            problems.append("no broker connection")
        try:
            async with service.results.pool.connection(timeout=READY_CHECK_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
        except (psycopg.Error, PoolTimeout) as exc:
            problems.append(f"database: {exc}")
        if problems:
            return JSONResponse({"status": "unready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app


def _fast_routes(
    router: APIRouter, service: Service, body_models: dict[str, type[PublishOptions]]
) -> dict[str, FastRoute]:
    """The generated task routes the fast path answers, by path."""
    routes = {r.path: r for r in router.routes if isinstance(r, APIRoute)}
    return {
        path: FastRoute(inputs, body_models[name], routes[path])
        for name, inputs in service.tasks.items()
        if (path := f"/tasks/{name}") in routes
    }
