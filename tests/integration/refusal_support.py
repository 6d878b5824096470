"""A queue that refuses every publish, for the tests of what a nack does to a producer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from config.settings import Settings
from ops.stack.processes import wait_until
from routing.management_api import ManagementAPI, quote

POLICY_WAIT_S = 30
FILLER = b"filler"


@contextmanager
def refusing_queue(settings: Settings, amqp: Any, queue: str = "default") -> Iterator[None]:
    """A policy that makes `queue` refuse every publish (max-length 0 with reject-publish;
    a quorum queue takes one message before it is over the limit, so `FILLER` is published
    first with pika), removed on exit. `amqp` is a pika channel."""
    api = ManagementAPI(settings.broker_api_url)
    vhost = quote(settings.broker_url.rsplit("/", 1)[1])
    name = f"test-refuse-{uuid.uuid4().hex[:8]}"
    api.put(
        f"policies/{vhost}/{name}",
        {
            "pattern": f"^{queue}$",
            "apply-to": "queues",
            "priority": 999,
            "definition": {"max-length": 0, "overflow": "reject-publish"},
        },
    )
    try:
        assert wait_until(
            lambda: api.get(f"queues/{vhost}/{queue}").get("policy") == name, POLICY_WAIT_S
        ), f"the policy did not apply to the {queue} queue"
        amqp.confirm_delivery()
        amqp.basic_publish("", queue, FILLER)
        yield
    finally:
        api.delete(f"policies/{vhost}/{name}")
