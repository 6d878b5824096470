"""The seeds' tasks, end to end, on pools started with their real command lines."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from celery.result import AsyncResult
from kombu import Connection

from config.app import app
from deadletter import headers
from ops.fake_services import FakeServices
from ops.supervisor import Supervisor
from routing.names import dlq_name
from tasks.analytics import extract_group, summary_chain, summary_chord
from tasks.external import call_external_rate_limited_api
from tasks.inventory import sync_inventory_webhook
from tasks.media import process_video_transcode
from tests.integration.conftest import start_pool


def _env(services: FakeServices) -> dict[str, str]:
    return {
        "SWITCHYARD_INVENTORY_API_URL": services.inventory_url,
        "SWITCHYARD_EXTERNAL_API_URL": services.external_url,
    }


def test_high_priority_overtakes_a_backlog(broker: Connection, supervisor: Supervisor) -> None:
    start_pool(supervisor, "media-heavy")
    low = [
        process_video_transcode.apply_async(args=(i, "mp4"), kwargs={"simulate_s": 0.4}, priority=0)
        for i in range(14)
    ]
    deadline = time.monotonic() + 30
    while low[0].state == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.05)
    high = [
        process_video_transcode.apply_async(
            args=(100 + i, "webm"), kwargs={"simulate_s": 0.4}, priority=9
        )
        for i in range(3)
    ]
    order = sorted((r.get(timeout=60)["started_at"], r in high) for r in low + high)
    last_high = max(i for i, (_, is_high) in enumerate(order) if is_high)
    lows_after = sum(1 for _, is_high in order[last_high:] if not is_high)
    # With prefetch 1 only the two running tasks are ahead of the high-priority ones.
    assert lows_after >= 8, order


def test_rate_limit_holds_ten_a_minute(
    broker: Connection, supervisor: Supervisor, fake_services: FakeServices
) -> None:
    start_pool(supervisor, "external-api", _env(fake_services))
    results = [call_external_rate_limited_api.delay({"n": n}) for n in range(3)]
    for result in results:
        result.get(timeout=60)
    times = [hit.at for hit in fake_services.hits("/external/calls")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 3
    # 10/m is one call every 6 s; allow for the jitter of a task's start.
    assert all(gap >= 5.0 for gap in gaps), gaps
    assert times[-1] - times[0] >= 11.0, gaps


def test_retries_back_off_then_succeed(
    broker: Connection, supervisor: Supervisor, fake_services: FakeServices
) -> None:
    path = "/inventory/stores/7/sync"
    fake_services.script[path] = [503, 503]
    start_pool(supervisor, "webhooks", _env(fake_services))
    result = sync_inventory_webhook.delay(7)
    assert result.get(timeout=90) == {"store_id": 7, "status": 200, "attempts": 3}
    hits = fake_services.hits(path)
    assert len(hits) == 3
    assert {h.idempotency_key for h in hits} == {result.id}


def test_a_final_answer_is_dead_lettered_with_its_reason(
    broker: Connection, supervisor: Supervisor, fake_services: FakeServices, amqp: Any
) -> None:
    path = "/inventory/stores/404/sync"
    fake_services.script[path] = [404] * 5
    start_pool(supervisor, "webhooks", _env(fake_services))
    result = sync_inventory_webhook.delay(404)
    with pytest.raises(Exception, match="HTTP 404"):
        result.get(timeout=60)
    assert len(fake_services.hits(path)) == 1  # not retried
    _, props, _ = _wait_get(amqp, dlq_name("webhooks"))
    assert props.headers["id"] == result.id
    assert "HTTP 404" in props.headers[headers.REASON]
    assert props.headers[headers.SOURCE_QUEUE] == "webhooks"


def test_chain_group_and_chord(broker: Connection, supervisor: Supervisor) -> None:
    start_pool(supervisor, "analytics")
    assert summary_chain(3).apply_async().get(timeout=60) == {
        "records": [3],
        "count": 5,
        "mean": 9.0,
    }
    extracted = extract_group([1, 2, 3, 4, 5]).apply_async().get(timeout=60)
    assert [e["record_id"] for e in extracted] == [1, 2, 3, 4, 5]
    summary = summary_chord([1, 2, 3, 4, 5]).apply_async().get(timeout=60)
    assert summary == {"records": [1, 2, 3, 4, 5], "count": 25, "mean": 9.0}


def test_beat_sends_maintenance_on_schedule(
    broker: Connection, supervisor: Supervisor, amqp: Any, tmp_path: Any
) -> None:
    from execution.health_files import HealthFiles
    from routing.worker_command import beat_argv

    health = HealthFiles(tmp_path / "beat-health")
    supervisor.start(
        "beat",
        beat_argv(str(tmp_path / "schedule")),
        {"SWITCHYARD_MAINTENANCE_INTERVAL_S": "1", "SWITCHYARD_HEALTH_DIR": str(health.directory)},
    )
    method, props, _ = _wait_get(amqp, "maintenance", timeout=30)
    assert props.headers["task"] == "tasks.maintenance.execute_db_maintenance"
    # The scheduler that sent it proves its ticks in the file beat's liveness probe reads.
    assert health.problem(60, need_ready=False) is None
    amqp.basic_nack(method.delivery_tag, requeue=True)
    start_pool(supervisor, "maintenance")
    done: dict[str, Any] = AsyncResult(props.headers["id"], app=app).get(timeout=60)
    assert set(done["deleted"]) >= {"celery_taskmeta"}


def _wait_get(channel: Any, queue: str, timeout: float = 20) -> tuple[Any, Any, bytes]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        method, props, body = channel.basic_get(queue, auto_ack=False)
        if method is not None:
            return method, props, body
        time.sleep(0.1)
    raise AssertionError(f"nothing arrived in {queue} within {timeout}s")
