"""The delayed-delivery step binds through the node the consumer is on, never the others."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from celery import Celery
from kombu import Connection

from routing import delayed_binding
from routing.delayed_binding import ConsumedQueuesDelayedDelivery

LIVE = "amqp://pool:secret@127.0.0.1:5681//"
DEAD = "amqp://pool:secret@127.0.0.1:5682//"


class Recording(ConsumedQueuesDelayedDelivery):
    def __init__(self, fail: BaseException | None = None) -> None:
        self.urls: list[str] = []
        self.fail = fail

    def _setup_delayed_delivery(self, c: Any, broker_url: str) -> None:
        self.urls.append(broker_url)
        if self.fail is not None:
            raise self.fail


def _consumer() -> Any:
    app = Celery("delayed-binding", set_as_current=False, broker=f"{DEAD};{LIVE}")
    return SimpleNamespace(app=app, connection=Connection(LIVE))


def test_only_the_connected_node_is_used_whatever_the_failover_list() -> None:
    step = Recording()
    step.start(_consumer())
    assert step.urls == [LIVE]


def test_a_failed_binding_is_retried_then_logged_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delayed_binding, "BIND_RETRY_INTERVAL_S", 0.01)
    step = Recording(fail=ConnectionRefusedError("down"))
    step.start(_consumer())  # does not raise
    assert step.urls == [LIVE] * (1 + delayed_binding.BIND_RETRIES)
