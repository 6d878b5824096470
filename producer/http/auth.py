"""Bearer tokens: clients allowed to enqueue, and clients allowed only to read task states.

Tokens come from the environment (the chart's Secret); a request names its client by its
token, and that name scopes its idempotency keys. No token or an unknown one is 401; a
read-only token on an endpoint that enqueues is 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import HTTPException, Request

SCHEME = "bearer"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Tokens:
    """Client name -> token, for writers (enqueue and read) and readers (read only)."""

    writers: Mapping[str, str]
    readers: Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.writers:
            raise ValueError("no API token: set SWITCHYARD_API_TOKENS to a JSON object")
        for name, token in {**self.writers, **self.readers}.items():
            if len(token) < 16:
                raise ValueError(f"API token of client {name!r} is shorter than 16 characters")

    def client(self, request: Request, *, write: bool) -> str:
        """The client name of the request's token.

        Raises:
            HTTPException: 401 without a known bearer token, 403 for a reader that writes.
        """
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != SCHEME or not token:
            raise HTTPException(401, "a bearer token is required", headers=_CHALLENGE)
        token = token.strip()
        for name, known in self.writers.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return name
        for name, known in self.readers.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                if write:
                    raise HTTPException(403, f"client {name!r} may only read task states")
                return name
        raise HTTPException(401, "unknown bearer token", headers=_CHALLENGE)
