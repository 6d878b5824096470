"""Routing, checked from the broker's side with pika rather than through Celery's eyes."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pika
import pytest
from kombu import Connection

from config.app import app
from config.settings import Settings
from routing import names
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.entities import broker_entities
from routing.management_api import ManagementAPI, quote
from routing.names import UNROUTABLE_QUEUE
from tests.integration.conftest import queue_depth


def _project_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if name.startswith("tasks."))


def test_every_task_has_a_declared_route() -> None:
    unrouted = [n for n in _project_tasks() if TOPOLOGY.route_for(n) is None]
    assert unrouted == []


def test_each_route_lands_in_its_queue(broker: Connection, amqp: Any) -> None:
    for name in _project_tasks():
        route = TOPOLOGY.route_for(name)
        assert route is not None
        app.send_task(name, args=(1,))
        method, _, _ = amqp.basic_get(route.queue, auto_ack=True)
        assert method is not None, f"{name} not in {route.queue}"
        for other in TOPOLOGY.queues:
            assert queue_depth(amqp, other.name) == 0, f"{name} also reached {other.name}"


def test_default_priority_of_a_route_is_on_the_message(broker: Connection, amqp: Any) -> None:
    route = TOPOLOGY.route_for("tasks.media.process_video_transcode")
    assert route is not None
    assert route.priority is not None
    app.send_task("tasks.media.process_video_transcode", args=(1, "mp4"))
    app.send_task("tasks.media.process_video_transcode", args=(2, "mp4"), priority=9)
    priorities = []
    for _ in range(2):
        _, props, _ = amqp.basic_get(route.queue, auto_ack=True)
        priorities.append(props.priority)
    assert priorities == [9, route.priority]  # the higher one is delivered first


def test_queue_arguments_on_the_broker_are_the_declared_ones(
    broker: Connection, settings: Settings
) -> None:
    api = ManagementAPI(settings.broker_api_url)
    vhost = settings.broker_url.rsplit("/", 1)[1]
    for queue in broker_entities(TOPOLOGY).all_queues:
        live = api.get(f"queues/{quote(vhost)}/{quote(queue.name)}")
        assert live["arguments"] == queue.queue_arguments, queue.name
        assert live["durable"] is True


def test_redeclaring_with_other_arguments_is_refused_by_the_broker(
    broker: Connection, settings: Settings
) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    channel = conn.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="PRECONDITION_FAILED"):
        channel.queue_declare("media_heavy", durable=True, arguments={"x-max-priority": 3})
    conn.close()


def test_unroutable_publish_ends_in_the_unroutable_queue(broker: Connection, amqp: Any) -> None:
    amqp.confirm_delivery()
    amqp.basic_publish(
        names.TASK_EXCHANGE,
        "no.such.queue",
        b"{}",
        pika.BasicProperties(content_type="application/json"),
    )
    app.send_task(
        "tasks.demo.add", args=(1, 2), exchange=names.TASK_EXCHANGE, routing_key="nowhere"
    )
    assert queue_depth(amqp, UNROUTABLE_QUEUE) == 2
    _, _, body = amqp.basic_get(UNROUTABLE_QUEUE, auto_ack=True)
    assert body == b"{}"


def test_an_undeclared_queue_is_never_created(broker: Connection, amqp: Any) -> None:
    with pytest.raises(Exception, match=r"not_declared|Queue"):
        app.send_task("tasks.demo.add", args=(1, 2), queue="not_declared")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        amqp.queue_declare("not_declared", passive=True)


def test_countdown_waits_in_the_broker_not_in_a_worker(broker: Connection, amqp: Any) -> None:
    sent_at = time.monotonic()
    app.send_task("tasks.demo.add", args=(1, 2), countdown=3)
    assert queue_depth(amqp, "default") == 0
    delayed = [f"celery_delayed_{level}" for level in range(28)]
    assert sum(queue_depth(amqp, q) for q in delayed) == 1
    deadline = sent_at + 20
    while queue_depth(amqp, "default") == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert queue_depth(amqp, "default") == 1
    assert time.monotonic() - sent_at >= 2.9


def _diff() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "topology", "diff"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_topology_diff_names_a_queue_declared_by_hand(broker: Connection, amqp: Any) -> None:
    assert _diff().returncode == 0
    amqp.queue_delete("analytics")
    amqp.queue_declare("analytics", durable=True, arguments={"x-max-priority": 3})
    try:
        found = _diff()
        assert found.returncode == 1
        assert "queue 'analytics': argument x-max-priority=3 on the broker, not declared" in (
            found.stdout
        )
        assert "queue 'analytics': argument x-queue-type='quorum' declared" in found.stdout
        assert "missing binding switchyard.tasks -> analytics (key 'analytics')" in found.stdout
    finally:
        amqp.queue_delete("analytics")
        declare_topology(broker, TOPOLOGY)
    assert _diff().returncode == 0
