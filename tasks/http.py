"""Outbound HTTP for tasks: JSON in, JSON out, and errors split into retryable or final.

The standard library is enough for these calls; the split is what matters: a 5xx, a 429 or
a network error is worth retrying, a 4xx is not and must not be retried forever.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

TIMEOUT_S = 10


class RetryableHTTPError(Exception):
    """The call may succeed later: network error, timeout, 429 or 5xx."""


class FinalHTTPError(Exception):
    """The request itself is wrong (4xx other than 429): retrying cannot help."""

    def __init__(self, status: int, url: str, detail: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {detail}")
        self.status = status


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


def post_json(url: str, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """POST `payload` as JSON; raise RetryableHTTPError or FinalHTTPError on failure."""
    if not url.startswith(("http://", "https://")):
        raise FinalHTTPError(0, url, "not an http(s) URL; check the service URL setting")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as reply:  # noqa: S310
            raw = reply.read()
            return Response(reply.status, json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:200]
        if exc.code == 429 or exc.code >= 500:
            raise RetryableHTTPError(f"HTTP {exc.code} from {url}: {detail}") from None
        raise FinalHTTPError(exc.code, url, detail) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise RetryableHTTPError(f"{url}: {exc}") from None
