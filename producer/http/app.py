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
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout

from config.settings import Settings
from producer.http.observe import RequestMetrics
from producer.http.seed_routes import router as seed_router
from producer.http.service import build_service, running
from producer.http.task_routes import tasks_router
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
    app.add_middleware(RequestMetrics)
    app.include_router(seed_router)
    app.include_router(tasks_router(service.tasks))

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
