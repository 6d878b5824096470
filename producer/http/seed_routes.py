"""The seeds' own endpoints: upload-style URLs that enqueue the seed tasks.

`POST /videos/{video_id}/transcode` is the upload endpoint of the architecture this project
implements; the others enqueue the remaining seed tasks that a web request starts. Each is
a thin, typed wrapper: its checks come from the task's declaration, its answer from
`submit`. Every task also has its generic `POST /tasks/{name}`; canvases (the analytics
chain and chord) are not offered, as they publish outside the confirm window.
"""

from __future__ import annotations

from typing import Any

from celery import Signature
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import Field, field_validator

from producer.http.service import service_of
from producer.http.submit import Accepted, PublishOptions, submit
from producer.http.task_routes import writer
from tasks.external import call_external_rate_limited_api
from tasks.inventory import sync_inventory_webhook
from tasks.media import FORMATS, process_video_transcode

router = APIRouter(tags=["seed endpoints"], responses={503: {"description": "retry later"}})


class TranscodeRequest(PublishOptions):
    target_format: str = Field(default="mp4", description=f"one of {sorted(FORMATS)}")

    @field_validator("target_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in FORMATS:
            raise ValueError(f"unknown format {value!r}; one of {sorted(FORMATS)}")
        return value


class ExternalCallRequest(PublishOptions):
    payload: dict[str, Any] = Field(description="the JSON body sent to the external API")


async def _submit(
    request: Request, client: str, task_name: str, signature: Signature[Any], *, payload: Any,
    options: PublishOptions,
) -> JSONResponse:  # fmt: skip
    service = service_of(request)
    plain = PublishOptions(priority=options.priority, countdown=options.countdown)
    return await submit(
        service, request, client=client, task=service.tasks[task_name], signature=signature,
        payload=payload, options=plain,
    )  # fmt: skip


@router.post("/videos/{video_id}/transcode", status_code=202, response_model=Accepted)
async def transcode_video(
    video_id: int, body: TranscodeRequest, request: Request, client: str = Depends(writer)
) -> JSONResponse:
    """Transcode an uploaded video on the `media_heavy` priority queue."""
    signature = process_video_transcode.s(video_id, body.target_format)
    payload = {"video_id": video_id, "target_format": body.target_format}
    return await _submit(
        request, client, process_video_transcode.name, signature, payload=payload, options=body
    )


@router.post("/stores/{store_id}/inventory-sync", status_code=202, response_model=Accepted)
async def sync_store_inventory(
    store_id: int, request: Request, body: PublishOptions | None = None,
    client: str = Depends(writer),
) -> JSONResponse:  # fmt: skip
    """Ask the inventory service to sync one store (a webhook, retried with backoff)."""
    options = body or PublishOptions()
    signature = sync_inventory_webhook.s(store_id)
    payload = {"store_id": store_id}
    return await _submit(
        request, client, sync_inventory_webhook.name, signature, payload=payload, options=options
    )


@router.post("/external-calls", status_code=202, response_model=Accepted)
async def call_external_api(
    body: ExternalCallRequest, request: Request, client: str = Depends(writer)
) -> JSONResponse:
    """Call the rate-limited external API (10 a minute for the whole deployment)."""
    task = call_external_rate_limited_api
    return await _submit(
        request, client, task.name, task.s(body.payload), payload={"payload": body.payload},
        options=body,
    )  # fmt: skip
