"""The API when the broker goes away: 503 with Retry-After, never a 500 or a lost task, and
a retry with the same Idempotency-Key publishes the same task id once the broker is back."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import psycopg
import pytest
from kombu import Connection

from config.settings import Settings
from ops.chaos.proxy import ChaosProxy
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from results.tables import IDEMPOTENCY_KEY
from tests.integration.api_support import start_api
from tests.integration.conftest import queue_depth

pytestmark = pytest.mark.integration

ADD = "/tasks/tasks.demo.add"
BODY = {"arguments": {"x": 3, "y": 4}}


def test_a_stopped_broker_is_503_and_the_keyed_retry_publishes_once(
    settings: Settings,
    broker: Connection,
    amqp: Any,
    supervisor: Supervisor,
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    url = urllib.parse.urlsplit(settings.api_broker_url or settings.broker_url)
    proxy = ChaosProxy((url.hostname or "", url.port or 5672)).start()
    through_proxy = url._replace(netloc=url.netloc.rsplit(":", 1)[0] + f":{proxy.port}")
    api = start_api(supervisor, {"SWITCHYARD_API_BROKER_URL": through_proxy.geturl()})
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}  # keys outlive a test run
    with api.client() as client:
        assert client.post(ADD, json=BODY).status_code == 202
        amqp.queue_purge("default")
        proxy.stop()  # the broker is gone for the API: connections reset, new ones refused
        refused = client.post(ADD, json=BODY, headers=key)
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) > 0
        unkeyed = client.post(ADD, json=BODY)  # the fast path's answer, not FastAPI's route
        assert unkeyed.status_code == 503, unkeyed.text
        assert int(unkeyed.headers["retry-after"]) > 0
        assert wait_until(lambda: client.get("/readyz").status_code == 503, 30)
        assert queue_depth(amqp, "default") == 0

        proxy.start()  # the broker is back
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 30)
        retried = client.post(ADD, json=BODY, headers=key)
    proxy.stop()
    assert retried.status_code == 202, retried.text
    row = db.execute(
        f"SELECT task_id, state FROM {IDEMPOTENCY_KEY} WHERE key = %s",  # noqa: S608
        (key["Idempotency-Key"],),
    ).fetchone()
    assert row == (retried.json()["task_id"], "published")
    _, properties, _ = amqp.basic_get("default", auto_ack=True)
    assert properties.headers["id"] == retried.json()["task_id"]
    assert queue_depth(amqp, "default") == 0
