"""The API's own metrics: requests by route and status, and how late its event loop runs.

The request counter is an ASGI middleware that labels by the route's template
(`/tasks/{task_id}`), never by the raw path, so a task id never becomes a label value.
The loop-lag probe sleeps a short interval again and again and records how much later
than asked it woke: anything that blocks the loop (a synchronous publish, a slow handler)
shows there.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metrics import instruments as m

LAG_INTERVAL_S = 0.05
UNMATCHED = "unmatched"


class RequestMetrics:
    """Counts every HTTP response by route template, method and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            m.api_requests.labels(template, scope["method"], str(status)).inc()


async def watch_loop_lag(interval_s: float = LAG_INTERVAL_S) -> None:
    """Record, forever, how late the loop wakes from a sleep of `interval_s`."""
    loop = asyncio.get_running_loop()
    lag = m.api_loop_lag.labels(socket.gethostname())
    while True:
        asked = loop.time()
        await asyncio.sleep(interval_s)
        lag.observe(max(0.0, loop.time() - asked - interval_s))
