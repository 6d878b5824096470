"""Test support for the producer API: `switchyard api` served by uvicorn on loopback."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from ops.commands.api import api_argv
from ops.stack.processes import wait_until
from ops.supervisor import Process, Supervisor
from tests.integration.metrics_support import free_port

WRITER_TOKEN = "writer-token-for-tests-0123456789"
READER_TOKEN = "reader-token-for-tests-0123456789"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class ApiServer:
    url: str
    metrics_port: int
    process: Process

    def client(self, token: str | None = WRITER_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def start_api(supervisor: Supervisor, env: dict[str, str] | None = None) -> ApiServer:
    """Start `switchyard api` on free loopback ports and wait until it answers /healthz."""
    port, metrics_port = free_port(), free_port()
    process = supervisor.start(
        f"api-{port}",
        api_argv(),
        {
            "SWITCHYARD_API_TOKENS": json.dumps({"tests": WRITER_TOKEN}),
            "SWITCHYARD_API_READ_TOKENS": json.dumps({"dashboard": READER_TOKEN}),
            "SWITCHYARD_API_PORT": str(port),
            "SWITCHYARD_METRICS_PORT": str(metrics_port),
            "SWITCHYARD_METRICS_HOST": "127.0.0.1",
            **(env or {}),
        },
    )
    server = ApiServer(f"http://127.0.0.1:{port}", metrics_port, process)
    assert wait_until(lambda: not process.alive or _answers(server), START_TIMEOUT_S), (
        f"the API did not answer: see {process.log}"
    )
    assert process.alive, f"the API exited: {process.log.read_text()[-2000:]}"
    return server


def _answers(server: ApiServer) -> bool:
    try:
        return httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
