"""Producer-side counts against the real broker: a refused publish is a failure, not a send."""

from __future__ import annotations

import amqp
import pytest
from kombu import Connection
from prometheus_client import REGISTRY

from config.app import app
from metrics import definitions as d
from routing.declaration import TOPOLOGY


def _count(spec: d.MetricSpec, task: str, queue: str) -> float:
    return REGISTRY.get_sample_value(spec.name, {d.TASK: task, d.QUEUE: queue}) or 0.0


def test_a_publish_the_broker_refuses_is_counted_as_failed(broker: Connection) -> None:
    from tests.tasks.metrics_probes import succeed

    queue = TOPOLOGY.default_queue  # the unrouted probe task goes there
    before = {s: _count(s, succeed.name, queue) for s in (d.TASK_SENT, d.TASK_PUBLISH_FAILED)}

    # By name: the task's own apply_async refuses an undeclared exchange before publishing.
    with pytest.raises(amqp.exceptions.NotFound):
        app.send_task(succeed.name, (1,), exchange="exchange-nobody-declared", routing_key=queue)
    assert _count(d.TASK_PUBLISH_FAILED, succeed.name, queue) == before[d.TASK_PUBLISH_FAILED] + 1
    assert _count(d.TASK_SENT, succeed.name, queue) == before[d.TASK_SENT]

    succeed.apply_async((1,))
    assert _count(d.TASK_SENT, succeed.name, queue) == before[d.TASK_SENT] + 1
