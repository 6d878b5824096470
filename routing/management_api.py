"""A small client for the RabbitMQ management HTTP API.

The stack provisions vhosts and users through it, `topology diff` reads the live broker
through it, and the queue exporter scrapes it. Standard library only: no client package
is worth a dependency for a handful of JSON calls.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ManagementAPIError(RuntimeError):
    """The management API refused a call or could not be reached."""


class ManagementAPI:
    """Calls against one management endpoint; credentials come from the URL."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ManagementAPIError(f"not an http(s) management URL: {redact(url)}")
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
        self.timeout = timeout

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def put(self, path: str, body: dict[str, Any]) -> None:
        self._call("PUT", path, body)

    def delete(self, path: str) -> None:
        self._call("DELETE", path)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            f"{self.base}/api/{path.lstrip('/')}", data=data, method=method, headers=self._headers
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise ManagementAPIError(f"{method} /api/{path}: HTTP {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ManagementAPIError(f"{method} {self.base}/api/{path}: {exc}") from None
        return json.loads(payload) if payload else None


def quote(name: str) -> str:
    """Quote a vhost or queue name for a path segment ('/' becomes %2F)."""
    return urllib.parse.quote(name, safe="")


def redact(url: str) -> str:
    """The URL with its password replaced, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
