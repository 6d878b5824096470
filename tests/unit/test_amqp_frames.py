"""The publish frames written in batches are byte for byte what py-amqp writes for one publish."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from amqp import spec
from amqp.basic_message import Message
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from producer.amqp_frames import Destination, PropertiesLayout, content_frames, publish_method
from producer.message_template import HEADERS, STAMPED_FIELDS

CHANNEL = 3


def _properties(task_id: str, published_at: float, argsrepr: str) -> dict[str, Any]:
    headers: dict[str, Any] = {
        "lang": "py",
        "task": "unit.add",
        "id": task_id,
        "eta": None,
        "retries": 0,
        "timelimit": [None, 30],
        "root_id": task_id,
        "argsrepr": argsrepr,
        "ignore_result": True,
        "stamps": {},
        "switchyard_published_at": published_at,
    }
    return {
        "priority": 0,
        "content_type": "application/json",
        "content_encoding": "utf-8",
        HEADERS: headers,
        "correlation_id": task_id,
        "reply_to": "reply-1",
        "delivery_mode": 2,
    }


def _py_amqp_writes(frame_max: int, destination: Destination, message: Message) -> bytes:
    """What py-amqp's own frame writer sends for `basic_publish(message, ...)`."""
    written: list[bytes] = []
    connection = SimpleNamespace(frame_max=frame_max, bytes_sent=0)
    transport = SimpleNamespace(write=lambda data: written.append(bytes(data)))
    write = frame_writer(connection, transport)
    args = (0, destination.exchange, destination.routing_key, destination.mandatory, False)
    write(1, CHANNEL, spec.Basic.Publish, dumps("Bssbb", args), message)
    return b"".join(written)


@pytest.mark.parametrize(("frame_max", "body_size"), [(131072, 90), (4096, 10_000), (4096, 0)])
def test_frames_match_py_amqp(frame_max: int, body_size: int) -> None:
    layout = PropertiesLayout(_properties("first", 1.5, "()"), STAMPED_FIELDS, HEADERS)
    properties = _properties("second-id-é", 1795312611.0145602, "(1, 'x')")
    body = b"x" * body_size
    destination = Destination("switchyard.tasks", "default")
    ours = publish_method(CHANNEL, destination) + content_frames(
        CHANNEL, frame_max, layout.encode(properties), body
    )
    assert ours == _py_amqp_writes(frame_max, destination, Message(body, **properties))


def test_only_short_string_properties_can_vary() -> None:
    with pytest.raises(ValueError, match="priority"):
        PropertiesLayout(_properties("a", 1.0, "()"), {"priority"}, HEADERS)
