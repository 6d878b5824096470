"""Celery's task message for a signature, as AMQP frames, built without any I/O.

An event loop that publishes on its own broker connection needs the message Celery would
publish as bytes it can write. Celery builds the first message of each shape (task and
options) itself, through `apply_async` with a kombu `Producer` whose channel keeps the
message instead of sending it; that message becomes the shape's template
(`producer.message_template`), and every later signature of the shape is the template
stamped with its id and arguments. Messages that get no template (a countdown, an expiry,
a task with a custom shadow name) are built by Celery every time. Either way the frames are
encoded byte for byte as py-amqp encodes them (`producer.amqp_frames`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery, Signature
from celery.utils import uuid
from kombu.transport.pyamqp import Channel as PyAmqpChannel

from metrics import instruments as m
from producer.amqp_frames import Destination, PropertiesLayout, content_frames, publish_method
from producer.bulk import only_own_publish_receivers
from producer.message_template import HEADERS, STAMPED_FIELDS, MessageTemplate, ShapeKey, shape_key

Labels = tuple[str, str]  # task name, queue label: what the sent/failed counters are labelled by


@dataclass(frozen=True)
class Encoded:
    """One task message, ready for a channel: where it goes, its properties and body.

    `labels` is set for stamped messages only: Celery's `after_task_publish` counted the
    ones it built, the publisher counts the stamped ones when the broker settles them.
    """

    task_id: str
    destination: Destination
    properties: bytes
    body: bytes
    labels: Labels | None

    def frames(self, channel_id: int, frame_max: int) -> bytes:
        method = publish_method(channel_id, self.destination)
        return method + content_frames(channel_id, frame_max, self.properties, self.body)


@dataclass(frozen=True)
class _Shape:
    template: MessageTemplate
    destination: Destination
    layout: PropertiesLayout
    labels: Labels


class _KeepingChannel:
    """What kombu's `Producer` needs of a channel to build a message; it keeps the message.

    `prepare_message` is kombu's own for py-amqp (an `amqp.Message`, nothing sent), so the
    properties are those a py-amqp channel would have published.
    """

    prepare_message = PyAmqpChannel.prepare_message

    def __init__(self, client: Any) -> None:
        self.connection = _Client(client)
        self.kept: tuple[Any, Destination] | None = None

    def basic_publish(
        self, message: Any, exchange: str = "", routing_key: str = "", mandatory: bool = False,
        **_: Any,
    ) -> None:  # fmt: skip
        self.kept = (message, Destination(exchange, routing_key, mandatory))


@dataclass(frozen=True)
class _Client:
    client: Any  # the kombu connection `Producer.connection` reports; never connected here


class MessageEncoder:
    """Encodes signatures as Celery's messages; one per publisher (it caches templates)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._channel = _KeepingChannel(app.connection_for_write())
        channel: Any = self._channel  # a channel as far as building a message goes
        self._producer = app.amqp.Producer(channel, auto_declare=False)
        self._shapes: dict[ShapeKey, _Shape | None] = {}
        self._templates_allowed = only_own_publish_receivers()

    def encode(self, signature: Signature[Any]) -> Encoded:
        """The message of `signature`; `signature` itself is not changed.

        Raises:
            TypeError / kombu.exceptions.EncodeError: the arguments do not fit the task or
                are not JSON, as `apply_async` raises them.
        """
        key = shape_key(signature) if self._templates_allowed else None
        encoded = None
        if key is not None:
            task_id = signature.options.get("task_id") or uuid()
            encoded = self.stamp(key, task_id, signature.args, signature.kwargs)
        if encoded is None:
            return self._through_celery(signature, key)
        return encoded

    def seen(self, key: ShapeKey) -> bool:
        """Whether a message of the shape was learned, whether or not it gave a template."""
        return key in self._shapes

    def stamp(
        self,
        key: ShapeKey,
        task_id: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        reply_to: str | None = None,
    ) -> Encoded | None:
        """The message of a call of shape `key` stamped from the shape's template; None when
        the shape has none (not learned yet, or no template possible). The arguments and
        `reply_to` as `MessageTemplate.stamp` takes them.

        Raises:
            TypeError: the arguments do not fit the task, as `apply_async` raises it.
        """
        shape = self._shapes.get(key)
        if shape is None:
            return None
        stamped = shape.template.stamp(task_id, args, kwargs, reply_to)
        return Encoded(
            task_id,
            shape.destination,
            shape.layout.encode(stamped.properties),
            stamped.body,
            shape.labels,
        )

    def learn(self, key: ShapeKey, message: Any, destination: Destination) -> None:
        """Keep the template of a message Celery built (a py-amqp `Message`) for its shape."""
        if key in self._shapes:
            return
        properties = message.properties
        self._shapes[key] = self._shape(properties, _body_bytes(message), destination)

    def _through_celery(self, signature: Signature[Any], key: ShapeKey | None) -> Encoded:
        self._channel.kept = None
        # The topology is declared by `topology declare`; a producer that re-declared the
        # queue on every first publish would need permission to reconfigure it.
        result = signature.apply_async(producer=self._producer, declare=[])
        if self._channel.kept is None:
            raise RuntimeError(f"Celery built no message for {signature.task}")
        message, destination = self._channel.kept
        body = _body_bytes(message)
        properties = message.properties
        if key is not None:
            self.learn(key, message, destination)
        serialized = PropertiesLayout(properties, (), HEADERS).encode(properties)
        return Encoded(str(result.id), destination, serialized, body, None)

    def _shape(
        self, properties: dict[str, Any], body: bytes, destination: Destination
    ) -> _Shape | None:
        template = MessageTemplate.from_message(
            self.app, properties.get(HEADERS) or {}, properties, body
        )
        if template is None:
            return None
        layout = PropertiesLayout(properties, STAMPED_FIELDS, HEADERS)
        labels = (template.name, m.queue_label(destination.routing_key))
        return _Shape(template, destination, layout, labels)


def _body_bytes(message: Any) -> bytes:
    """The body of a py-amqp message as its frame writer encodes it."""
    body = message.body
    if isinstance(body, str):
        body = body.encode(message.properties.setdefault("content_encoding", "utf-8"))
    return bytes(body)
