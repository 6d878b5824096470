"""Bad input at the door: each check refuses with the queue and its limit named, and each
call path (`apply_async`, `switchyard send`) reaches the checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from kombu.transport.native_delayed_delivery import calculate_routing_key

from routing.declaration import TOPOLOGY
from routing.model import (
    BROKER_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    PoolSpec,
    QueueSpec,
    TopologyError,
)
from routing.publish_checks import (
    MessageTooLarge,
    PriorityOutOfRange,
    PublishRefused,
    UnknownDestination,
    body_size,
    check_publish,
)
from tests.unit.eager_app import run_eager


@pytest.mark.parametrize(
    ("queue", "priority", "message"),
    [
        ("media_heavy", 20, "priority 20 outside 0-10 of queue 'media_heavy'"),
        ("media_heavy", -1, "priority -1 outside 0-10 of queue 'media_heavy'"),
        ("media_heavy", "high", "priority 'high' for queue 'media_heavy': an integer 0-10"),
        ("media_heavy", True, "priority True for queue 'media_heavy': an integer 0-10"),
        ("webhooks", 9, "priority 9 on queue 'webhooks', which has no priorities"),
        ("webhooks", -1, "priority -1 on queue 'webhooks', which has no priorities"),
        ("webhooks", "0", "priority '0' for queue 'webhooks': an integer 0-0"),
    ],
)
def test_a_priority_the_queue_cannot_hold_is_refused(
    queue: str, priority: object, message: str
) -> None:
    with pytest.raises(PriorityOutOfRange) as caught:
        check_publish(TOPOLOGY, queue=queue, priority=priority)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_priorities_in_range_pass() -> None:
    for priority in (0, 5, 10):
        assert check_publish(TOPOLOGY, queue="media_heavy", priority=priority).name == (
            "media_heavy"
        )
    assert check_publish(TOPOLOGY, queue="webhooks").name == "webhooks"
    # 0 is what every message carries when no priority is given (a retry copies it).
    assert check_publish(TOPOLOGY, queue="webhooks", priority=0).name == "webhooks"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"routing_key": "nope"}, "routing key 'nope' matches no declared queue"),
        ({"queue": "nope"}, "queue 'nope' matches no declared queue"),
        ({"queue": "default", "routing_key": "nope"}, "routing key 'nope'"),
        ({"exchange": "amq.direct", "routing_key": "default"}, "exchange 'amq.direct'"),
    ],
)
def test_a_destination_no_binding_matches_is_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(UnknownDestination) as caught:
        check_publish(TOPOLOGY, **options)
    assert message in str(caught.value)


def test_a_routing_key_from_delayed_delivery_reaches_its_queue() -> None:
    delayed = calculate_routing_key(5, "webhooks")
    assert check_publish(TOPOLOGY, routing_key=delayed).name == "webhooks"


def test_arguments_above_the_queue_limit_are_refused() -> None:
    big = "x" * DEFAULT_MAX_MESSAGE_BYTES
    with pytest.raises(MessageTooLarge) as caught:
        check_publish(TOPOLOGY, queue="webhooks", args=[big])
    assert f"exceed the {DEFAULT_MAX_MESSAGE_BYTES} bytes queue 'webhooks' accepts" in str(
        caught.value
    )
    # Just under the limit passes: the check measures what is sent.
    fits = "x" * (DEFAULT_MAX_MESSAGE_BYTES - body_size([""], {}))
    assert body_size([fits], {}) == DEFAULT_MAX_MESSAGE_BYTES
    check_publish(TOPOLOGY, queue="webhooks", args=[fits])


def test_a_queue_limit_must_stay_below_the_brokers() -> None:
    with pytest.raises(TopologyError, match="below the broker's max_message_size"):
        QueueSpec("big", max_message_bytes=BROKER_MAX_MESSAGE_BYTES)


def test_a_pool_kind_that_cannot_enforce_time_limits_is_refused() -> None:
    with pytest.raises(TopologyError, match="a solo pool cannot enforce its time limits"):
        PoolSpec("one", queues=("default",), kind="solo", concurrency=1)


APPLY_ASYNC_SCRIPT = """
import json
from tasks.media import process_video_transcode
from tasks.inventory import sync_inventory_webhook
calls = {
    "priority 20": lambda: process_video_transcode.apply_async((1, "mp4"), priority=20),
    "priority high": lambda: process_video_transcode.apply_async((1, "mp4"), priority="high"),
    "priority on quorum": lambda: sync_inventory_webhook.apply_async((1,), priority=9),
    "routing key": lambda: sync_inventory_webhook.apply_async((1,), routing_key="nope"),
    "size": lambda: sync_inventory_webhook.delay("x" * 2_000_000),
    "signature": lambda: sync_inventory_webhook.s(1).set(priority=3).apply_async(),
}
out = {}
for name, call in calls.items():
    try:
        call()
        out[name] = None
    except ValueError as exc:
        out[name] = [type(exc).__name__, str(exc)]
out["good"] = process_video_transcode.delay(1, "mp4", simulate_s=0).get()["output"]
print(json.dumps(out))
"""


def test_apply_async_refuses_before_publishing(tmp_path: Path) -> None:
    """In eager mode (no broker) so that it runs in the unit tier; the checks come first
    in `apply_async` either way."""
    out = run_eager(APPLY_ASYNC_SCRIPT, tmp_path)
    assert out["priority 20"] == [
        "PriorityOutOfRange",
        "priority 20 outside 0-10 of queue 'media_heavy'",
    ]
    assert out["priority high"][0] == "PriorityOutOfRange"
    assert out["priority on quorum"][0] == "PriorityOutOfRange"
    assert out["routing key"][0] == "UnknownDestination"
    assert out["size"][0] == "MessageTooLarge"
    assert out["signature"][0] == "PriorityOutOfRange"
    assert out["good"] == "videos/1.mp4"


def test_every_refusal_is_a_value_error() -> None:
    for cls in (PriorityOutOfRange, UnknownDestination, MessageTooLarge):
        assert issubclass(cls, PublishRefused)
        assert issubclass(cls, ValueError)
