"""The peers' drain, end to end at a tiny size: stock Celery, Dramatiq and Switchyard each
queue a few dozen no-ops, start their workers and run them all, on the real broker.

Figures are not asserted (timed assertions are forbidden): what is checked is that every
peer's backlog is run to the end and leaves its queue empty, and that the report compares
Switchyard with each peer.
"""

from __future__ import annotations

import io

import pika
import pytest
from kombu import Connection

from config.settings import Settings
from ops.bench.compare_suite import DRAIN, DRAMATIQ, STOCK, SWITCHYARD, Sizes, configurations
from ops.bench.model import Suite, Workload
from ops.bench.report import as_dict
from ops.bench.runner import peer_entities, run_suite
from ops.bench.workloads import FirstDelivery, drain
from ops.progress import ProgressDisplay

pytestmark = pytest.mark.integration
TASKS = 40


def test_each_peer_drains_its_backlog(broker: Connection, settings: Settings) -> None:
    chosen = tuple(c for c in configurations(Sizes()) if c.name in {STOCK, DRAMATIQ, SWITCHYARD})
    suite = Suite(
        "peers-drain",
        chosen,
        (
            Workload(
                "drain",
                (DRAIN,),
                lambda client, progress, _: {DRAIN.key: drain(client, progress, TASKS)},
                stage="drain",
            ),
        ),
    )
    log = io.StringIO()
    with ProgressDisplay(len(chosen), "lines", log) as display:
        outcome = run_suite(suite, 1, display)
    assert {name: len(runs["drain"]) for name, runs in outcome.runs.items()} == {
        STOCK: 1,
        DRAMATIQ: 1,
        SWITCHYARD: 1,
    }
    assert all(runs["drain"][0] > 0 for runs in outcome.runs.values())
    entry = as_dict(outcome)["figures"][0]
    assert set(entry) >= {"ratio_to_stock", "ratio_to_dramatiq"}
    assert "[dramatiq] drain 1/1" in log.getvalue()
    assert _ready(settings, "default") == 0
    # The peers' own queues and exchanges are gone: the broker is as the declaration says.
    queues, exchanges = peer_entities(chosen)
    assert {"celery", "celery.DQ", "bench_dramatiq.DQ"} <= set(queues)
    assert [q for q in queues if _exists(settings, queue=q)] == []
    assert [e for e in exchanges if _exists(settings, exchange=e)] == []


def test_first_delivery_is_seen_only_when_a_message_leaves(settings: Settings) -> None:
    """The drain's clock starts when the ready count falls; not before."""
    params = pika.URLParameters(settings.broker_url)
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=False, auto_delete=True).method.queue
        for _ in range(3):
            channel.basic_publish("", queue, b"x")
        with FirstDelivery(queue, 3) as untouched:
            assert untouched.polled.wait(10)
        assert untouched.at is None
        with FirstDelivery(queue, 3) as first:
            assert first.polled.wait(10)
            method, _, _ = channel.basic_get(queue, auto_ack=True)
            assert method is not None
            first.wait(10)
        assert first.at is not None
        channel.queue_delete(queue)
    finally:
        connection.close()


def _ready(settings: Settings, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def _exists(settings: Settings, *, queue: str = "", exchange: str = "") -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        channel = connection.channel()
        if queue:
            channel.queue_declare(queue, passive=True)
        else:
            channel.exchange_declare(exchange, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:
            raise
        return False
    finally:
        if connection.is_open:
            connection.close()
