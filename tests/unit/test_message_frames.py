"""The frames the API's event loop writes are byte for byte what py-amqp writes when Celery
publishes the same task: built by Celery the first time, stamped from its template after."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery

from producer.message_frames import MessageEncoder
from tests.unit.test_amqp_frames import CHANNEL, _py_amqp_writes

FRAME_MAX = 4096
NOW = 1795312611.0145602


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Celery:
    monkeypatch.setattr("time.time", lambda: NOW)  # the publish-time header, both ways
    celery = Celery("unit", set_as_current=False)
    celery.conf.update(broker_url="amqp://guest:guest@127.0.0.1:1//", task_serializer="json")

    @celery.task(name="unit.pair", shared=False)
    def pair(left: int, right: int) -> int:
        return left + right

    return celery


def _signature(app: Celery, task_id: str, **options: Any) -> Any:
    signature = app.signature("unit.pair", kwargs={"left": 1, "right": "é" * 3000})
    return signature.set(task_id=task_id, **options)


def _celery_writes(app: Celery, task_id: str, **options: Any) -> bytes:
    """What py-amqp would write for the message Celery builds for this signature."""
    encoder = MessageEncoder(app)  # no template yet: Celery builds it
    encoder.encode(_signature(app, task_id, **options))
    kept = encoder._channel.kept
    assert kept is not None
    message, destination = kept
    return _py_amqp_writes(FRAME_MAX, destination, message)


@pytest.mark.parametrize("options", [{}, {"priority": 3}])
def test_built_and_stamped_messages_are_what_py_amqp_writes(
    app: Celery, options: dict[str, Any]
) -> None:
    encoder = MessageEncoder(app)
    first = encoder.encode(_signature(app, "first-id", **options))
    second = encoder.encode(_signature(app, "second-id", **options))
    assert first.frames(CHANNEL, FRAME_MAX) == _celery_writes(app, "first-id", **options)
    assert second.frames(CHANNEL, FRAME_MAX) == _celery_writes(app, "second-id", **options)
    assert (first.labels, second.labels) == (None, ("unit.pair", "celery"))
    assert second.task_id == "second-id"


def test_a_countdown_is_built_by_celery_every_time(app: Celery) -> None:
    """Its message depends on when it is built: no template, and Celery counts it."""
    encoder = MessageEncoder(app)
    built = [encoder.encode(_signature(app, f"id-{n}", countdown=30)) for n in range(2)]
    assert [e.labels for e in built] == [None, None]
    assert [e.task_id for e in built] == ["id-0", "id-1"]


def test_arguments_that_do_not_fit_raise_and_nothing_is_kept(app: Celery) -> None:
    encoder = MessageEncoder(app)
    encoder.encode(_signature(app, "first-id"))
    bad = app.signature("unit.pair", kwargs={"left": 1})
    with pytest.raises(TypeError):
        encoder.encode(bad)
