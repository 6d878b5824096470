"""Inventory sync: an outbound webhook, retried with backoff, dead-lettered when final."""

from __future__ import annotations

from typing import Any

from celery.exceptions import Reject

from config.app import app
from config.settings import get_settings
from tasks.http import FinalHTTPError, RetryableHTTPError, post_json


@app.task(
    bind=True,
    autoretry_for=(RetryableHTTPError,),
    max_retries=3,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
)
def sync_inventory_webhook(self: Any, store_id: int) -> dict[str, Any]:
    """Tell the inventory service to sync one store.

    The task id travels as the idempotency key, so a retry or a redelivery is applied once
    by the receiver. A 400/404 is final: the message goes to the dead-letter queue with the
    answer as its reason, instead of being retried.
    """
    base = get_settings().inventory_api_url.rstrip("/")
    try:
        reply = post_json(
            f"{base}/stores/{store_id}/sync",
            {"store_id": store_id},
            headers={"Idempotency-Key": str(self.request.id)},
        )
    except FinalHTTPError as exc:
        raise Reject(str(exc), requeue=False) from exc
    return {"store_id": store_id, "status": reply.status, "attempts": self.request.retries + 1}
