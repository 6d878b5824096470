"""Everything Celery and the broker get is derived from the declaration."""

from __future__ import annotations

from routing import names
from routing.arguments import queue_arguments
from routing.celery_settings import routing_settings
from routing.declaration import TOPOLOGY
from routing.entities import broker_entities
from routing.worker_command import worker_argv


def test_task_queues_match_declared_queues() -> None:
    queues = routing_settings(TOPOLOGY)["task_queues"]
    assert [q.name for q in queues] == [q.name for q in TOPOLOGY.queues]


def test_every_work_queue_dead_letters_to_its_dlq() -> None:
    for queue in broker_entities(TOPOLOGY).work_queues:
        args = queue.queue_arguments or {}
        assert args["x-dead-letter-exchange"] == names.DEAD_LETTER_EXCHANGE
        assert args["x-dead-letter-routing-key"] == f"{queue.name}.dlq"


def test_priority_queue_arguments() -> None:
    media = TOPOLOGY.queue("media_heavy")
    args = broker_entities(TOPOLOGY).work_queues[TOPOLOGY.queues.index(media)].queue_arguments or {}
    assert args["x-queue-type"] == "classic"
    assert args["x-max-priority"] == media.max_priority
    assert "x-delivery-limit" not in args


def test_quorum_queue_bounds_redelivery_and_dead_letters_at_least_once() -> None:
    args = queue_arguments("quorum", dead_letter_exchange="dlx", delivery_limit=3)
    assert args["x-delivery-limit"] == 3
    assert args["x-dead-letter-strategy"] == "at-least-once"
    assert args["x-overflow"] == "reject-publish"


def test_task_exchange_has_the_unroutable_alternate() -> None:
    exchange = broker_entities(TOPOLOGY).work_queues[0].exchange
    assert exchange.arguments == {"alternate-exchange": names.UNROUTABLE_EXCHANGE}


def test_router_sends_tasks_to_their_declared_queue_with_default_priority() -> None:
    router = routing_settings(TOPOLOGY)["task_routes"][0]
    assert router("tasks.media.process_video_transcode", (), {}, {}) == {
        "queue": "media_heavy",
        "priority": 5,
    }
    assert router("not.declared", (), {}, {}) is None


def test_worker_argv_consumes_exactly_the_pools_queues() -> None:
    for pool in TOPOLOGY.pools:
        argv = worker_argv(pool)
        assert argv[argv.index("--queues") + 1].split(",") == list(pool.queues)
        assert argv[argv.index("--prefetch-multiplier") + 1] == str(pool.prefetch_multiplier)
        assert argv[argv.index("--time-limit") + 1] == str(pool.time_limit_s)
