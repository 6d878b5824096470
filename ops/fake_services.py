"""Loopback stand-ins for the services the seeds' tasks call: an inventory service and a
rate-limited external API. The demo uses them; tests script their answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ops.stack.layout import HOST


@dataclass(frozen=True)
class Recorded:
    path: str
    at: float
    body: object
    idempotency_key: str | None


@dataclass
class FakeServices:
    """An HTTP server on a free loopback port.

    `script[path]` is a list of status codes answered in turn; once it is used up (or for an
    unscripted path) the answer is 200 with a JSON echo.
    """

    script: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def inventory_url(self) -> str:
        return f"{self.base_url}/inventory"

    @property
    def external_url(self) -> str:
        return f"{self.base_url}/external"

    def hits(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def most_in_window(self, path: str, window_s: float) -> int:
        """The most calls to `path` that any window of `window_s` seconds holds."""
        return most_in_window([r.at for r in self.hits(path)], window_s)

    def start(self) -> FakeServices:
        services = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with services._lock:
                    services.requests.append(
                        Recorded(
                            self.path,
                            time.time(),
                            json.loads(raw or b"null"),
                            self.headers.get("Idempotency-Key"),
                        )
                    )
                    queued = services.script.get(self.path) or []
                    status = queued.pop(0) if queued else 200
                body = json.dumps({"path": self.path, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def most_in_window(times: list[float], window_s: float) -> int:
    """The most of `times` inside any half-open window [t, t + window_s); the busiest
    window starts at one of the times, so those are the only starts to try."""
    ordered = sorted(times)
    most, end = 0, 0
    for start, at in enumerate(ordered):
        while end < len(ordered) and ordered[end] < at + window_s:
            end += 1
        most = max(most, end - start)
    return most
