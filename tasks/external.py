"""Calls to an external API that allows 10 requests a minute."""

from __future__ import annotations

from typing import Any

from celery.exceptions import Reject

from config.app import app
from config.settings import get_settings
from tasks.http import FinalHTTPError, RetryableHTTPError, post_json


@app.task(
    shared_rate_limit="10/m",
    autoretry_for=(RetryableHTTPError,),
    max_retries=5,
    retry_backoff=True,
    retry_jitter=True,
)
def call_external_rate_limited_api(payload: dict[str, Any]) -> Any:
    """POST `payload` to the external API.

    The limit is the deployment's, shared through PostgreSQL by every replica
    (`execution.shared_rate_limit`); a call over budget waits in the broker, not in a worker.
    """
    base = get_settings().external_api_url.rstrip("/")
    try:
        return post_json(f"{base}/calls", payload).body
    except FinalHTTPError as exc:
        raise Reject(str(exc), requeue=False) from exc
