"""The producer API over HTTP: uvicorn on loopback, httpx as the client, the real broker,
database and workers. Every status code the API promises is made to happen here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kombu import Connection

from ops.supervisor import Supervisor
from producer.http.submit import REPLAYED_HEADER
from producer.http.task_routes import WOKEN_BY_HEADER
from results.tables import TASK_RESULT
from tests.integration.api_support import READER_TOKEN, ApiServer, start_api
from tests.integration.conftest import queue_depth, start_pool
from tests.integration.metrics_support import scrape

pytestmark = pytest.mark.integration

ADD = "/tasks/tasks.demo.add"
TRANSCODE = "/videos/{}/transcode"


@pytest.fixture(scope="module")
def api(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    supervisor = Supervisor(Path(tmp_path_factory.mktemp("api")) / "logs")
    try:
        yield start_api(supervisor)
    finally:
        supervisor.stop(timeout=30)


def test_enqueue_is_202_with_location_and_one_message(
    api: ApiServer, broker: Connection, amqp: Any
) -> None:
    with api.client() as client:
        reply = client.post(ADD, json={"arguments": {"x": 2, "y": 3}})
    assert reply.status_code == 202, reply.text
    task_id = reply.json()["task_id"]
    assert reply.headers["location"] == f"/tasks/{task_id}"
    _, properties, body = amqp.basic_get("default", auto_ack=True)
    assert properties.headers["id"] == task_id
    assert json.loads(body)[:2] == [[], {"x": 2, "y": 3}]
    assert queue_depth(amqp, "default") == 0


def test_the_worker_runs_it_and_a_wait_returns_on_the_notification(
    api: ApiServer, broker: Connection, supervisor: Supervisor
) -> None:
    with api.client() as client:
        task_id = client.post(ADD, json={"arguments": {"x": 20, "y": 22}}).json()["task_id"]
        assert client.get(f"/tasks/{task_id}").json()["state"] == "PENDING"
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.get, f"/tasks/{task_id}", params={"wait": 60})
            start_pool(supervisor, "default")  # only now can the task run
            reply = waiting.result(timeout=120)
    assert reply.status_code == 200, reply.text
    state = reply.json()
    assert (state["state"], state["result"], state["ready"]) == ("SUCCESS", 42, True)
    assert state["date_done"] is not None
    assert reply.headers[WOKEN_BY_HEADER] == "notify"


def test_a_result_stored_without_notification_is_not_reported_as_notified(
    api: ApiServer, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    """The check above can fail: a row written with no NOTIFY is found only by a read."""
    task_id = str(uuid.uuid4())
    with api.client() as client, ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(client.get, f"/tasks/{task_id}", params={"wait": 3})
        db.execute(
            f"INSERT INTO {TASK_RESULT} (task_id, state, result) "  # noqa: S608
            "VALUES (%s, 'SUCCESS', '7'::jsonb)",
            (task_id,),
        )
        reply = waiting.result(timeout=30)
    assert reply.json()["result"] == 7
    assert reply.headers[WOKEN_BY_HEADER] in {"stored", "timeout"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (ADD, {"arguments": {"x": "two", "y": 1}}, ["body", "arguments", "x"]),
        (ADD, {"arguments": {"x": 1}}, ["body", "arguments", "y"]),
        (ADD, {"arguments": {"x": 1, "y": 2, "z": 3}}, ["body", "arguments", "z"]),
        (ADD, {"arguments": {"x": 1, "y": 2}, "priority": 1}, ["body", "priority"]),
        (ADD, {"arguments": {"x": 1, "y": 2}, "countdown": -1}, ["body", "countdown"]),
        (TRANSCODE.format(7), {"priority": 11}, ["body", "priority"]),
        (TRANSCODE.format(7), {"target_format": "avi"}, ["body", "target_format"]),
        (TRANSCODE.format("seven"), {}, ["path", "video_id"]),
    ],
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_published(
    api: ApiServer, amqp: Any, path: str, body: Any, field: list[str]
) -> None:
    with api.client() as client:
        reply = client.post(path, json=body)
    assert reply.status_code == 422, reply.text
    assert field in [error["loc"] for error in reply.json()["detail"]]
    assert queue_depth(amqp, "default") == 0
    assert queue_depth(amqp, "media_heavy") == 0


def test_priority_and_the_seed_endpoint_reach_the_priority_queue(
    api: ApiServer, broker: Connection, amqp: Any
) -> None:
    with api.client() as client:
        reply = client.post(TRANSCODE.format(1024), json={"target_format": "webm", "priority": 8})
    assert reply.status_code == 202, reply.text
    _, properties, body = amqp.basic_get("media_heavy", auto_ack=True)
    assert properties.priority == 8
    assert properties.headers["task"] == "tasks.media.process_video_transcode"
    assert json.loads(body)[0] == [1024, "webm"]


def test_tokens_401_without_or_unknown_403_for_a_reader_that_enqueues(
    api: ApiServer, broker: Connection, amqp: Any
) -> None:
    body = {"arguments": {"x": 1, "y": 1}}
    with api.client(token=None) as anonymous:
        missing = anonymous.post(ADD, json=body)
    with api.client(token="not-a-token-of-this-deployment") as stranger:
        unknown = stranger.get(f"/tasks/{uuid.uuid4()}")
    with api.client(token=READER_TOKEN) as reader:
        refused = reader.post(ADD, json=body)
        read = reader.get(f"/tasks/{uuid.uuid4()}")
    assert (missing.status_code, unknown.status_code, refused.status_code) == (401, 401, 403)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert read.status_code == 200
    assert queue_depth(amqp, "default") == 0


def test_an_undeclared_task_is_404_naming_the_close_ones(api: ApiServer) -> None:
    with api.client() as client:
        reply = client.post("/tasks/tasks.demo.ad", json={})
    assert reply.status_code == 404
    assert "tasks.demo.add" in reply.json()["detail"]


def test_a_retried_request_with_its_key_enqueues_once(
    api: ApiServer, broker: Connection, amqp: Any
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"arguments": {"x": 5, "y": 6}}
    with api.client() as client:
        first = client.post(ADD, json=body, headers=key)
        again = client.post(ADD, json=body, headers=key)
        other = client.post(ADD, json={"arguments": {"x": 5, "y": 7}}, headers=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["task_id"] == first.json()["task_id"]
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER.lower() not in first.headers
    assert other.status_code == 422
    assert queue_depth(amqp, "default") == 1


def test_probes_docs_and_metrics(api: ApiServer, broker: Connection) -> None:
    with api.client() as client:
        assert client.post(ADD, json={"arguments": {"x": 1, "y": 2}}).status_code == 202
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json() == {"status": "ready"}
        assert client.get("/docs").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
    assert {ADD, "/videos/{video_id}/transcode", "/tasks/{task_id}"} <= paths.keys()
    samples = scrape(api.metrics_port)
    accepted = (
        'switchyard_api_requests_total{method="POST",route="/tasks/tasks.demo.add",status="202"}'
    )
    assert samples[accepted] >= 1
    assert samples['switchyard_api_enqueue_seconds_count{name="tasks.demo.add"}'] >= 1
    lag = [
        v for k, v in samples.items() if k.startswith("switchyard_api_event_loop_lag_seconds_count")
    ]
    assert sum(lag) > 0
