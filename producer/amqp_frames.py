"""The AMQP 0-9-1 frames of a `basic.publish`, encoded byte for byte as py-amqp encodes them.

py-amqp writes each publish with its own socket write (and, on a connection that can be
blocked, a read attempt before it). Encoding the frames here lets many publishes go out
in one write; the broker sees the same frames on the same channel, so publisher confirms
number them as usual.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from struct import pack
from typing import Any

from amqp import spec
from amqp.basic_message import Message
from amqp.serialization import dumps

FRAME_END = b"\xce"
FRAME_OVERHEAD = 8  # type (1), channel (2), size (4), frame end (1)
METHOD_FRAME, HEADER_FRAME, BODY_FRAME = 1, 2, 3
PUBLISH_ARGUMENTS = "Bssbb"  # reserved short, exchange, routing key, mandatory, immediate


@dataclass(frozen=True)
class Destination:
    """Where a publish goes: what `basic.publish` carries besides the content."""

    exchange: str
    routing_key: str
    mandatory: bool = False


def publish_method(channel_id: int, destination: Destination) -> bytes:
    """The method frame, the same for every message to `destination` on the channel."""
    arguments = dumps(
        PUBLISH_ARGUMENTS,
        (0, destination.exchange, destination.routing_key, destination.mandatory, False),
    )
    return _frame(METHOD_FRAME, channel_id, pack(">HH", *spec.Basic.Publish) + arguments)


class PropertiesLayout:
    """Serialized message properties as constant bytes around the values that vary.

    Built from one message's properties; `encode` gives what py-amqp's
    `_serialize_properties` gives for another message with the same properties and
    headers (same keys, same order) in which only `varying` headers and properties differ.
    """

    def __init__(
        self, properties: Mapping[str, Any], varying: Collection[str], headers_key: str
    ) -> None:
        self.headers_key = headers_key
        flags = 0
        # Each part: constant bytes, or the name of a property (or header) encoded per message.
        self.parts: list[bytes | str] = []
        self.header_parts: list[bytes | tuple[str, bytes]] = []
        for index, (key, kind) in enumerate(Message.PROPERTIES):
            value = properties.get(key)
            if value is None:
                continue
            flags |= 1 << (15 - index)
            if key == headers_key:
                self.parts.append(key)
                for name, item in value.items():
                    if name in varying:
                        self.header_parts.append((name, _shortstr(name)))
                    else:
                        self.header_parts.append(_table_entry(name, item))
            elif key in varying:
                if kind != "s":
                    raise ValueError(f"property {key}: only short strings can vary")
                self.parts.append(key)
            else:
                self.parts.append(dumps(kind, (value,)))
        self.parts.insert(0, pack(">H", flags))

    def encode(self, properties: Mapping[str, Any]) -> bytes:
        out: list[bytes] = []
        for part in self.parts:
            if isinstance(part, bytes):
                out.append(part)
            elif part == self.headers_key:
                out.append(self._table(properties[part]))
            else:
                out.append(_shortstr(properties[part]))
        return b"".join(out)

    def _table(self, headers: Mapping[str, Any]) -> bytes:
        entries: list[bytes] = []
        for part in self.header_parts:
            if isinstance(part, bytes):
                entries.append(part)
            else:
                name, key = part
                entries.append(key + _item(headers[name], name))
        table = b"".join(entries)
        return pack(">I", len(table)) + table


def _shortstr(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogatepass")
    return pack("B", len(raw)) + raw


def _table_entry(name: str, value: Any) -> bytes:
    """One `name: value` entry of a table, as py-amqp encodes it."""
    return bytes(dumps("F", ({name: value},)))[4:]  # without the table's length


def _item(value: Any, name: str) -> bytes:
    """A table value: strings and floats directly, anything else through py-amqp."""
    if type(value) is str:
        raw = value.encode("utf-8", "surrogatepass")
        return pack(">cI", b"S", len(raw)) + raw
    if type(value) is float:
        return pack(">cd", b"d", value)
    return _table_entry(name, value)[len(_shortstr(name)) :]


def content_frames(channel_id: int, frame_max: int, serialized: bytes, body: bytes) -> bytes:
    """The content header frame and the body frame(s), split at the negotiated frame size.

    `serialized`: the properties, as `PropertiesLayout.encode` or py-amqp serialize them.
    """
    header = pack(">HHQ", spec.Basic.Publish[0], 0, len(body)) + serialized
    chunk = frame_max - FRAME_OVERHEAD
    parts = [_frame(HEADER_FRAME, channel_id, header)]
    parts += [
        _frame(BODY_FRAME, channel_id, body[i : i + chunk]) for i in range(0, len(body), chunk)
    ]
    return b"".join(parts)


def _frame(kind: int, channel_id: int, payload: bytes) -> bytes:
    return pack(">BHI", kind, channel_id, len(payload)) + payload + FRAME_END
