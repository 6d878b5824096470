"""`enqueue_many` publishes every task once, they all run, and a refused message raises.

After the first signature of a shape, messages are stamped from the one Celery built; the
tests check that real workers run those with the right results, links and chains, and that
the broker holds the same headers and properties Celery sends, ids and publish time aside.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import chain
from kombu import Connection, Exchange, Queue
from prometheus_client import REGISTRY

from config.app import app
from metrics import definitions as d
from metrics.producer import PUBLISHED_AT_HEADER
from ops.bench.tasks import noop
from ops.broker_users import pool_worker_env
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from producer.bulk import EnqueueRefused, enqueue_many
from routing.arguments import queue_arguments
from routing.checked_task import declared_router
from routing.declaration import TOPOLOGY
from routing.model import PoolSpec, QueueSpec
from routing.worker_command import worker_argv
from tests.tasks.probes import echo, record_run

pytestmark = pytest.mark.integration

TASKS = 300
MAX_LENGTH = 5
LINKED = 20
PER_TASK = {"id", "root_id", "argsrepr", "kwargsrepr", PUBLISHED_AT_HEADER}


def test_every_task_is_published_and_runs(broker: Connection, supervisor: Supervisor) -> None:
    results = enqueue_many([echo.si(i) for i in range(TASKS)], app, window=64)
    assert len({r.id for r in results}) == TASKS
    supervisor.start(
        "worker-default", worker_argv(TOPOLOGY.pool("default")), pool_worker_env("default")
    )
    assert app.ResultSet(results).get(timeout=120) == list(range(TASKS))


def test_stamped_messages_run_links_chains_and_store_results(
    broker: Connection, supervisor: Supervisor, tmp_path: Path
) -> None:
    log = tmp_path / "links.log"
    link = record_run.s(str(log))
    quiet = noop.si().set(ignore_result=True)  # type: ignore[call-arg]  # an apply_async option
    signatures = [
        *(echo.si([i]).set(link=link) for i in range(LINKED)),
        *(quiet.clone() for _ in range(LINKED)),
        *(chain(echo.si(i), echo.s()) for i in range(3)),
        *(echo.si({"n": i}, 0.0) for i in range(LINKED)),
    ]
    results = enqueue_many(signatures, app)
    supervisor.start(
        "worker-default", worker_argv(TOPOLOGY.pool("default")), pool_worker_env("default")
    )
    linked, ignored, chained, stored = (
        results[:LINKED],
        results[LINKED : 2 * LINKED],
        results[2 * LINKED : 2 * LINKED + 3],
        results[2 * LINKED + 3 :],
    )
    assert app.ResultSet(linked).get(timeout=120) == [[i] for i in range(LINKED)]
    assert [r.get(timeout=120) for r in chained] == [0, 1, 2]
    assert app.ResultSet(stored).get(timeout=120) == [{"n": i} for i in range(LINKED)]
    assert all(r.ignored for r in ignored)
    wait_until(lambda: log.exists() and len(log.read_text().splitlines()) == LINKED, 60)
    assert len(log.read_text().splitlines()) == LINKED


def test_stamped_messages_carry_what_celery_sends(broker: Connection, full_queue: str) -> None:
    signatures = [echo.si(i).set(exchange="", routing_key=full_queue) for i in range(3)]
    results = enqueue_many(signatures, app)
    channel: Any = broker.channel()
    messages = [channel.basic_get(full_queue, no_ack=True) for _ in signatures]
    channel.close()
    first, *stamped = messages
    for result, message in zip(results, messages, strict=True):
        assert message.headers["id"] == message.properties["correlation_id"] == result.id
    for message, value in zip(stamped, (1, 2), strict=True):
        assert _without(message.headers, PER_TASK) == _without(first.headers, PER_TASK)
        assert message.headers["root_id"] == message.headers["id"]
        assert message.headers["argsrepr"] == f"({value},)"
        assert message.headers[PUBLISHED_AT_HEADER] >= first.headers[PUBLISHED_AT_HEADER]
        assert _without(message.properties, {"correlation_id", "application_headers"}) == (
            _without(first.properties, {"correlation_id", "application_headers"})
        )
        assert message.delivery_info["routing_key"] == full_queue
        assert _text(message.body) == _text(first.body).replace("[[0]", f"[[{value}]")


def _count(spec: d.MetricSpec, queue: str) -> float:
    return REGISTRY.get_sample_value(spec.name, {d.TASK: echo.name, d.QUEUE: queue}) or 0.0


def _text(body: str | bytes) -> str:
    return body.decode() if isinstance(body, bytes) else body


def _without(mapping: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


@pytest.fixture
def full_queue(broker: Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A scratch queue that holds `MAX_LENGTH` messages and refuses the next ones, added to
    the app's declaration for the test (the publish checks refuse an undeclared queue)."""
    suffix = uuid.uuid4().hex[:8]
    name = f"test.bulk.{suffix}"
    router = declared_router(app)
    monkeypatch.setattr(
        router,
        "topology",
        dataclasses.replace(
            router.topology,
            queues=(*router.topology.queues, QueueSpec(name, type="classic")),
            pools=(*router.topology.pools, PoolSpec(f"scratch-{suffix}", queues=(name,))),
        ),
    )
    queue = Queue(
        name,
        Exchange(""),
        routing_key=name,
        durable=True,
        queue_arguments=queue_arguments("classic", max_length=MAX_LENGTH),
    )
    channel: Any = broker.channel()
    queue.bind(channel).declare()
    yield name
    queue.bind(channel).delete()
    channel.close()


def test_a_refused_message_raises(broker: Connection, full_queue: str) -> None:
    ids = [str(uuid.uuid4()) for _ in range(10)]
    signatures = [
        echo.si(i).set(exchange="", routing_key=full_queue, task_id=task_id)
        for i, task_id in enumerate(ids)
    ]
    before = {s: _count(s, full_queue) for s in (d.TASK_SENT, d.TASK_PUBLISH_FAILED)}
    with pytest.raises(EnqueueRefused) as refused:
        enqueue_many(signatures, app)
    assert [r.id for r in refused.value.accepted] == ids[:MAX_LENGTH]
    assert refused.value.refused == ids[MAX_LENGTH:]
    # The first message went through Celery (counted on publish); the rest were stamped.
    assert _count(d.TASK_SENT, full_queue) == before[d.TASK_SENT] + MAX_LENGTH
    failed = len(ids) - MAX_LENGTH
    assert _count(d.TASK_PUBLISH_FAILED, full_queue) == before[d.TASK_PUBLISH_FAILED] + failed
    channel: Any = broker.channel()
    assert channel.queue_declare(queue=full_queue, passive=True).message_count == MAX_LENGTH
    channel.close()
