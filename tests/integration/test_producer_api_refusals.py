"""The API's own broker connection: a message the broker nacks is a 503, nothing published,
and a list of broker URLs fails over to the next one that answers."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Connection

from config.settings import Settings
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from tests.integration.api_support import start_api
from tests.integration.conftest import queue_depth
from tests.integration.metrics_support import free_port
from tests.integration.refusal_support import FILLER, refusing_queue

pytestmark = pytest.mark.integration

ADD = "/tasks/tasks.demo.add"
BODY = {"arguments": {"x": 1, "y": 2}}


@pytest.fixture
def refusing_default_queue(settings: Settings, broker: Connection, amqp: Any) -> Iterator[None]:
    """The `default` queue refuses every publish during the test (`refusing_queue`)."""
    with refusing_queue(settings, amqp):
        yield


def test_a_nacked_message_is_503_and_nothing_is_published(
    settings: Settings, supervisor: Supervisor, amqp: Any, refusing_default_queue: None
) -> None:
    api = start_api(supervisor)
    with api.client() as client:
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 30)
        refused = client.post(ADD, json=BODY)
        keyed = client.post(ADD, json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
        still_ready = client.get("/readyz").status_code
    assert refused.status_code == 503, refused.text
    assert "refused" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) > 0
    assert keyed.status_code == 503, keyed.text  # FastAPI's own route answers the same
    assert still_ready == 200  # a refusal is not a lost connection
    _, _, body = amqp.basic_get("default", auto_ack=True)
    assert body == FILLER
    assert queue_depth(amqp, "default") == 0


def test_the_same_request_is_202_once_the_queue_takes_it(
    settings: Settings, supervisor: Supervisor, broker: Connection, amqp: Any
) -> None:
    """The check above can fail: without the policy the same request is published."""
    api = start_api(supervisor)
    with api.client() as client:
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 30)
        accepted = client.post(ADD, json=BODY)
    assert accepted.status_code == 202, accepted.text
    assert queue_depth(amqp, "default") == 1


def test_a_list_of_broker_urls_fails_over_to_one_that_answers(
    settings: Settings, supervisor: Supervisor, broker: Connection, amqp: Any
) -> None:
    good = urllib.parse.urlsplit(settings.api_broker_url or settings.broker_url)
    nobody = good._replace(netloc=good.netloc.rsplit(":", 1)[0] + f":{free_port()}")
    urls = f"{nobody.geturl()};{good.geturl()}"  # the first refuses connections
    api = start_api(supervisor, {"SWITCHYARD_API_BROKER_URL": urls})
    with api.client() as client:
        assert wait_until(lambda: client.get("/readyz").status_code == 200, 30)
        accepted = client.post(ADD, json=BODY)
    assert accepted.status_code == 202, accepted.text
    _, properties, _ = amqp.basic_get("default", auto_ack=True)
    assert properties.headers["id"] == accepted.json()["task_id"]
