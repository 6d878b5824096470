"""A Celery task message built once per signature shape and stamped per task.

Celery builds every task message from scratch: options merged, router consulted, headers
and properties assembled, the body serialized, the queue re-declared. For many signatures
of one shape (same task, same options) only the task id, the arguments and the publish
time differ. A template is taken from a message Celery itself built and published; a new
message is that template with a new id (and root id when the task was its own root),
its own arguments and their reprs, and the publish-time header re-stamped.

A message whose content depends on when it is built (an ETA, a countdown, an expiry:
native delayed delivery routes it by its delay) or on its arguments beyond the body (a
custom `shadow_name`, pydantic arguments) gets no template and goes through Celery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery, Signature, Task
from celery.utils.saferepr import saferepr
from kombu.utils.json import dumps, loads

from metrics.producer import PUBLISHED_AT_HEADER

ShapeKey = tuple[str, str]

JSON = "application/json"
HEADERS = "application_headers"  # the property holding the headers, as py-amqp names it
# What `MessageTemplate.stamp` writes per task: headers, then properties.
STAMPED_FIELDS = frozenset(
    ("id", "root_id", "argsrepr", "kwargsrepr", PUBLISHED_AT_HEADER, "correlation_id", "reply_to")
)
_TIMED_HEADERS = ("eta", "expires")
_GIVEN_REPRS = frozenset(("argsrepr", "kwargsrepr"))


def shape_key(signature: Signature[Any]) -> ShapeKey | None:
    """What makes two signatures' messages the same but for ids and arguments.

    None for canvas primitives (chain, group, chord): their messages embed the ids of
    the tasks that follow, which differ every time; and for given argument reprs, which
    a stamp would replace.
    """
    if type(signature) is not Signature or _GIVEN_REPRS & signature.options.keys():
        return None
    return options_key(str(signature.task), signature.options)


def options_key(name: str, options: Mapping[str, Any]) -> ShapeKey:
    """The shape of a call of task `name` with these `apply_async` options (the task id
    aside); `shape_key` for a signature."""
    return name, repr(sorted((k, v) for k, v in options.items() if k != "task_id"))


@dataclass(frozen=True)
class Reprs:
    """How Celery shortens arguments for the `argsrepr`/`kwargsrepr` headers."""

    args_maxsize: int
    kwargs_maxsize: int
    maxlevels: int

    @classmethod
    def of(cls, app: Celery) -> Reprs:
        amqp = app.amqp
        return cls(amqp.argsrepr_maxsize, amqp.kwargsrepr_maxsize, app.conf.task_repr_maxlevels)


@dataclass(frozen=True)
class Stamped:
    """One message: its AMQP properties (headers included) and its body."""

    properties: dict[str, Any]
    body: bytes


@dataclass(frozen=True)
class MessageTemplate:
    """The parts of one shape's message that every task of the shape shares.

    Parameters:
        headers / properties: Celery's, as published (`properties` without the headers).
        embed_json: the body's third element (callbacks, errbacks, chain, chord), encoded.
        root_is_self: the template was its own root (sent outside any task), so each
            message's root id is its own id; otherwise the caller's root id is kept.
        check_arguments: the task's signature check (Celery's `typing`), if any.
    """

    name: str
    headers: Mapping[str, Any]
    properties: Mapping[str, Any]
    embed_json: str
    root_is_self: bool
    reprs: Reprs
    check_arguments: Callable[..., Any] | None

    @classmethod
    def from_message(
        cls,
        app: Celery,
        headers: Mapping[str, Any],
        properties: Mapping[str, Any],
        body: str | bytes,
    ) -> MessageTemplate | None:
        """A template from a protocol-2 message Celery built, or None if it cannot be one."""
        if any(headers.get(h) is not None for h in _TIMED_HEADERS):
            return None
        if properties.get("expiration") is not None or properties.get("content_type") != JSON:
            return None
        if headers.get("compression") is not None:
            return None
        name = str(headers["task"])
        task: Task[Any, Any] | None = app.tasks.get(name)
        if task is not None and not _stamps_like_celery(task):
            return None
        _args, _kwargs, embed = loads(body)
        check = getattr(task, "__header__", None) if task is not None and task.typing else None
        return cls(
            name=name,
            headers=dict(headers),
            properties={k: v for k, v in properties.items() if k != HEADERS},
            embed_json=dumps(embed),
            root_is_self=headers.get("root_id") == headers["id"],
            reprs=Reprs.of(app),
            check_arguments=check,
        )

    def stamp(
        self,
        task_id: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        reply_to: str | None = None,
    ) -> Stamped:
        """The message Celery would build for this shape with `task_id` and these arguments.

        `reply_to`: the sending thread's `app.thread_oid`, which Celery puts there; None
        keeps the template's (a publisher that sends from the thread that built it).

        Raises:
            TypeError: the arguments do not fit the task's signature (as `apply_async`).
        """
        if self.check_arguments is not None:
            self.check_arguments(*args, **kwargs)
        headers = dict(self.headers)
        headers["id"] = task_id
        if self.root_is_self:
            headers["root_id"] = task_id
        headers["argsrepr"] = _repr(args, "()", self.reprs.args_maxsize, self.reprs)
        headers["kwargsrepr"] = _repr(kwargs, "{}", self.reprs.kwargs_maxsize, self.reprs)
        if PUBLISHED_AT_HEADER in headers:
            headers[PUBLISHED_AT_HEADER] = time.time()
        properties = dict(self.properties)
        properties["correlation_id"] = task_id
        if reply_to is not None:
            properties["reply_to"] = reply_to
        properties[HEADERS] = headers
        # What `json.dumps([args, kwargs, embed])` writes, without re-encoding the embed.
        body = f"[{_json(args, '[]')}, {_json(kwargs, '{}')}, {self.embed_json}]"
        return Stamped(properties, body.encode())


def _stamps_like_celery(task: Task[Any, Any]) -> bool:
    """Whether the message depends on the arguments only through the body and reprs."""
    plain_shadow = getattr(type(task).shadow_name, "__func__", type(task).shadow_name)
    return (
        plain_shadow is Task.shadow_name and getattr(task, "_dump_pydantic_arguments", None) is None
    )


def _json(value: Any, empty: str) -> str:
    """kombu's JSON of the arguments; the common empty case without calling it."""
    if not value and type(value) in {tuple, list, dict}:
        return empty
    return str(dumps(value))


def _repr(value: Any, empty: str, maxsize: int | None, reprs: Reprs) -> str:
    """Celery's `saferepr` of the arguments; the common cases without calling it."""
    if not value and type(value) in {tuple, dict}:
        return empty
    flat = _flat_repr(value)
    if flat is not None and (maxsize is None or len(flat) < maxsize):
        return flat  # shorter than the limit: saferepr truncates nothing either
    return str(saferepr(value, maxsize, maxlevels=reprs.maxlevels))


_SCALARS = frozenset((int, float, bool))


def _scalar_repr(value: Any) -> str | None:
    """`saferepr` of a number, None or text (quotes escaped, nothing else), else None."""
    kind = type(value)
    if kind is str:
        return "'" + str(value).replace("'", "\\'") + "'"
    if kind in _SCALARS:
        return str(value)
    if value is None:
        return "None"
    return None


def _flat_repr(value: Any) -> str | None:
    """What `saferepr` writes for a tuple or dict of scalars; None for anything else.

    Celery's `saferepr` walks a token stream per value, which was the largest single cost
    of stamping a message; for the flat arguments an API request carries the result is
    this simple join (checked against `saferepr` in `tests/unit/test_message_template.py`).
    """
    if type(value) is dict:
        pairs = [(_scalar_repr(k), _scalar_repr(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if type(value) is tuple:
        items = [_scalar_repr(item) for item in value]
        if any(item is None for item in items):
            return None
        return "(" + ", ".join(map(str, items)) + ("," if len(items) == 1 else "") + ")"
    return None
