"""The API benchmark's arithmetic: percentiles of latencies and the loop lag's p99 bucket,
and the load generator against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops.bench.api_suite import _p99_bound_ms, servers
from ops.bench.http_load import LoadResult, Request, closed_loop, open_loop
from ops.bench.plain_api import CONFIRMS_ENV, NO_PUBLISH_ENV


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status = 202 if self.path == "/ok" else 503
        body = b'{"task_id": "t"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_percentiles_of_known_latencies() -> None:
    result = LoadResult(latencies_s=[i / 1000 for i in range(1, 1001)])
    assert result.percentile_ms(50) == pytest.approx(500, abs=1)
    assert result.percentile_ms(99) == pytest.approx(990, abs=1)


def test_the_lag_p99_is_the_bucket_holding_99_percent_of_the_new_samples() -> None:
    before = {0.001: 100.0, 0.005: 100.0, 0.05: 100.0, float("inf"): 100.0}
    after = {0.001: 198.0, 0.005: 199.0, 0.05: 200.0, float("inf"): 200.0}
    assert _p99_bound_ms(before, after) == 5.0  # 99 of 100 new samples are within 5 ms
    after_slow = {0.001: 150.0, 0.005: 190.0, 0.05: 200.0, float("inf"): 200.0}
    assert _p99_bound_ms(before, after_slow) == 50.0


def test_every_request_is_answered_and_counted_by_status(server: str) -> None:
    ok = asyncio.run(closed_loop(Request(f"{server}/ok", {"a": 1}), 50, 4))
    refused = asyncio.run(open_loop(Request(f"{server}/no", {"a": 1}), 20, 200.0, 4))
    assert ok.statuses == {202: 50}
    assert len(ok.latencies_s) == 50
    assert refused.statuses == {503: 20}
    assert refused.latencies_s == []  # only 2xx answers have a latency


def test_targets_are_against_the_confirming_handler_and_the_floor_publishes_nothing() -> None:
    configured = servers(20000)
    assert configured[0].name == "switchyard-api"
    assert configured[-1].env.get(CONFIRMS_ENV) == "1"  # `table` checks the targets on it
    floors = [s for s in configured if s.env.get(NO_PUBLISH_ENV) == "1"]
    assert [s.name for s in floors] == ["fastapi-floor"]
    ports = [p for s in configured for p in (s.port, s.metrics_port)]
    assert len(ports) == len(set(ports))
