"""Contract tests: every private name of Celery, kombu, py-amqp and billiard that `compat`
lists still exists, with the shape Switchyard relies on, in the installed versions.

Each check fails with the library, its installed version, the name, what changed and where
Switchyard uses it. Run them alone against other versions with
`pytest tests/unit/test_internals_contract.py` (see `docs/internals.md`).
"""

from __future__ import annotations

import inspect
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import amqp.abstract_channel
import amqp.basic_message
import amqp.channel
import amqp.connection
import amqp.method_framing
import amqp.transport
import billiard.util
import kombu.utils.compat
import pika.adapters.base_connection
import pika.connection
import pytest
from celery import Celery, group
from celery.app.amqp import AMQP
from celery.backends.base import BaseBackend, KeyValueStoreBackend
from celery.concurrency.base import BasePool
from celery.utils.imports import symbol_by_name
from celery.worker.consumer import Consumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from celery.worker.request import Request
from kombu import Message
from kombu.utils.json import dumps

import compat
from tests.unit.first_party import ROOT, first_party_sources


@dataclass(frozen=True)
class Contract:
    """One private name: the library it belongs to, where Switchyard uses it, its check.

    `check` returns what is wrong, or None when the name has the expected shape."""

    library: str
    name: str
    used_in: str
    check: Callable[[], str | None]

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def _parameters(function: Any, expected: tuple[str, ...]) -> str | None:
    """None when `function`'s parameters (after self) begin with `expected`."""
    names = [p for p in inspect.signature(function).parameters if p != "self"]
    if tuple(names[: len(expected)]) != expected:
        return f"takes ({', '.join(names)}), expected ({', '.join(expected)}, ...)"
    return None


def _method(owner: type, name: str, expected: tuple[str, ...]) -> str | None:
    function = getattr(owner, name, None)
    if not callable(function):
        return f"{owner.__name__} has no method {name}"
    return _parameters(function, expected)


def _calls(owner: type, public: str, private: str) -> str | None:
    """None when `owner.public`'s source still goes through `private`."""
    member = inspect.getattr_static(owner, public)
    function = getattr(member, "func", None) or getattr(member, "fget", None) or member
    if private not in inspect.getsource(function):
        return f"{owner.__name__}.{public} no longer goes through {private}"
    return None


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)


# -- celery ------------------------------------------------------------------------------


def _noop() -> None:
    """The contract tests' task."""


def _app() -> Celery:
    app = Celery("contract", set_as_current=False)
    app.task(name="contract.noop")(_noop)
    return app


def _lazy_group_results() -> str | None:
    """A group of a generator keeps it lazy, and Celery's Redis backend tells such a chord
    header apart as `results.backend` does."""
    app = _app()
    lazy = group(app.signature("contract.noop") for _ in range(2))
    if not isinstance(lazy.tasks, compat.LazyGroupResults):
        return f"a group of a generator holds a {type(lazy.tasks).__name__}"
    redis_backend = find_spec("celery.backends.redis")
    assert redis_backend is not None
    assert redis_backend.origin is not None
    if "isinstance(header_result_args[1], _regen)" not in Path(redis_backend.origin).read_text():
        return "Celery's Redis backend no longer tells a lazy chord header apart"
    return None


def _task_sender() -> str | None:
    problem = _calls(AMQP, "send_task_message", "_create_task_sender")
    return problem or _parameters(
        _app().amqp._create_task_sender(),  # type: ignore[attr-defined]
        ("producer", "name", "message"),
    )


class _RecordingChannel:
    """Records the acks a message sends; kombu asks a channel for its no-ack consumers."""

    no_ack_consumers = None

    def __init__(self) -> None:
        self.acked: list[int] = []

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self.acked.append(delivery_tag)


def _request_parts() -> str | None:
    """A real request from a real task message: the private slots hold its message and app,
    and the ack callback acknowledges that message."""
    app = _app()
    task_message = app.amqp.as_task_v2("contract-id", "contract.noop", args=(), kwargs={})
    channel = _RecordingChannel()
    kombu_message: Any = Message  # the stubs type delivery tags as strings
    message = kombu_message(
        body=dumps(task_message.body),
        delivery_tag=7,
        content_type="application/json",
        content_encoding="utf-8",
        headers=task_message.headers,
        properties=task_message.properties,
        channel=channel,
        delivery_info={"exchange": "", "routing_key": "contract"},
    )
    # As Celery's task strategy builds it (with the ack callback not deferred to the loop).
    request = Request(
        message, on_ack=message.ack_log_error, app=app, connection_errors=(ConnectionError,)
    )
    if compat.request_message(request) is not message:
        return "Request._message is not the message the request was built from"
    if compat.request_app(request) is not app:
        return "Request._app is not the request's app"
    compat.ack_request(request, logging.getLogger(__name__))
    if channel.acked != [7]:
        return "Request._on_ack(logger, Request._connection_errors) did not ack the message"
    return None


def _backend_hooks() -> Iterator[Contract]:
    hooks = (
        ("store_result", "_store_result", ("task_id", "result", "state", "traceback")),
        ("get_task_meta", "_get_task_meta_for", ("task_id",)),
        ("forget", "_forget", ("task_id",)),
        ("save_group", "_save_group", ("group_id", "result")),
        ("get_group_meta", "_restore_group", ("group_id",)),
        ("delete_group", "_delete_group", ("group_id",)),
    )
    for public, hook, parameters in hooks:

        def check(public: str = public, hook: str = hook, p: tuple[str, ...] = parameters) -> Any:
            # KeyValueStoreBackend is Celery's own implementation of the hooks.
            return _first(_calls(BaseBackend, public, hook), _method(KeyValueStoreBackend, hook, p))

        yield Contract("celery", f"BaseBackend.{hook}", "results.backend", check)


def _prefetch_restoring() -> str | None:
    """The flag is set in the consumer and read where acks restore the prefetch count."""
    consumer = inspect.getsource(Consumer)
    if "self._maximum_prefetch_restored = " not in consumer:
        return "is no longer set by Consumer"
    return _calls(Consumer, "create_task_handler", "_maximum_prefetch_restored")


def _steps() -> str | None:
    steps = Consumer.Blueprint.default_steps
    for step, cls in (
        (compat.CONSUMER_CONNECTION_STEP, "Connection"),
        (compat.DELAYED_DELIVERY_STEP, "DelayedDelivery"),
    ):
        if step not in steps:
            return f"{step} is not a consumer step (steps: {', '.join(steps)})"
        if symbol_by_name(step).__name__ != cls:
            return f"{step} is not {cls}"
    return None


# -- kombu -------------------------------------------------------------------------------


def _reject_log_error() -> str | None:
    for handler in ("on_unknown_message", "on_unknown_task", "on_invalid_task"):
        if problem := _calls(Consumer, handler, "reject_log_error"):
            return problem
    message = Message(body="")
    replacement = _parameters(Message.reject_log_error, ("logger", "errors", "requeue"))
    message.reject_log_error = lambda *a, **kw: None  # type: ignore[method-assign]
    return replacement


# -- py-amqp -----------------------------------------------------------------------------


def _chunked_reads() -> str | None:
    """`TCPTransport._read(n, initial, ...)` reads exactly n bytes through `_quick_recv`
    into `_read_buffer`, which `read_frame` reads every frame part through."""
    transport: Any = amqp.transport.TCPTransport
    setup = inspect.getsource(transport._setup_transport)
    if "self._read_buffer" not in setup or "self._quick_recv" not in setup:
        return "TCPTransport._setup_transport no longer sets _read_buffer and _quick_recv"
    installed = transport.__dict__["_read"]
    original = getattr(installed, "replaces", installed)  # py-amqp's, even once replaced
    problem = _parameters(original, ("n", "initial", "_errnos"))
    if problem or "raise_on_initial_eintr" not in inspect.getsource(original):
        return problem or "TCPTransport._read no longer honours raise_on_initial_eintr"
    abstract: Any = amqp.transport._AbstractTransport  # type: ignore[attr-defined]
    return _calls(abstract, "read_frame", "self._read")


def _frame_writer() -> str | None:
    """Every frame goes through `Connection.frame_writer`, which can be replaced."""
    member = inspect.getattr_static(amqp.connection.Connection, "frame_writer")
    if not (isinstance(member, property) and member.fset is not None):
        return "Connection.frame_writer is not a settable property"
    for module in (amqp.connection, amqp.channel, amqp.abstract_channel):
        if re.search(r"transport\.write|\._write\(", inspect.getsource(module)):
            return f"{module.__name__} writes on the transport besides the frame writer"
    return _first(
        _calls(amqp.connection.Connection, "send_heartbeat", "frame_writer"),
        _calls(amqp.abstract_channel.AbstractChannel, "send_method", "frame_writer"),
        _parameters(amqp.method_framing.frame_writer, ("connection", "transport")),
    )


def _heartbeat_attributes() -> str | None:
    connection = amqp.connection.Connection
    if not hasattr(connection, "last_heartbeat_received"):
        return "Connection has no last_heartbeat_received"
    if "self.sock" not in inspect.getsource(amqp.transport):
        return "the transport no longer keeps its socket as sock"
    return _first(
        _method(connection, "send_heartbeat", ()),
        _calls(connection, "heartbeat_tick", "last_heartbeat_received"),
    )


def _basic_publish() -> str | None:
    channel = amqp.channel.Channel
    if getattr(channel, "basic_publish", None) is not getattr(channel, "_basic_publish", None):
        return "Channel.basic_publish is no longer Channel._basic_publish"
    return _first(
        _method(channel, "_basic_publish", ("msg", "exchange", "routing_key", "mandatory")),
        _calls(channel, "basic_publish_confirm", "_basic_publish"),
        # `producer.fast_apply` stands in for the confirming publish: a nack raises this.
        _calls(channel, "basic_publish_confirm", "MessageNacked"),
    )


def _emit_data() -> str | None:
    connection = pika.adapters.base_connection.BaseConnection
    return _first(
        _method(connection, "_adapter_emit_data", ("data",)),
        _calls(connection, "_adapter_emit_data", "write"),
        _calls(pika.connection.Connection, "_output_marshaled_frames", "_adapter_emit_data"),
    )


def _message_properties() -> str | None:
    properties = amqp.basic_message.Message.PROPERTIES
    if not all(isinstance(k, str) and isinstance(t, str) for k, t in properties):
        return "Message.PROPERTIES is not a list of (name, type) pairs"
    message: Any = amqp.basic_message.Message(b"", content_type="application/json")
    if not isinstance(message._serialize_properties(), bytes):
        return "Message._serialize_properties() does not return bytes"
    return None


# -- billiard ----------------------------------------------------------------------------


def _after_forkers() -> str | None:
    """A hook registered as Celery and kombu register theirs runs in a forked child."""
    if kombu.utils.compat.register_after_fork is not billiard.util.register_after_fork:
        return "kombu no longer registers its after-fork hooks with billiard"
    read_end, write_end = os.pipe()
    owner = _RecordingChannel()  # any object: the registry keeps it weakly
    kombu.utils.compat.register_after_fork(owner, lambda o: os.write(write_end, b"ran"))
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            compat.run_after_forkers()
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        ran = pipe.read()
    del owner
    return None if ran == b"ran" else "_run_after_forkers() did not run a registered hook"


CONTRACTS: tuple[Contract, ...] = (
    Contract("celery", "AMQP._create_task_sender", "metrics.producer", _task_sender),
    Contract(
        "celery",
        "AMQP._retry_publish",
        "compat.publish_callback (results.backend)",
        lambda: _method(AMQP, "_retry_publish", ("publish",)),
    ),
    Contract(
        "celery",
        "celery.utils.functional._regen",
        "compat.LazyGroupResults (results.backend)",
        _lazy_group_results,
    ),
    *_backend_hooks(),
    Contract(
        "celery",
        "BaseBackend._ensure_retryable",
        "results.backend",
        lambda: _method(BaseBackend, "_ensure_retryable", ("func",)),
    ),
    Contract("celery", "Request._message", "compat.request_message", _request_parts),
    Contract("celery", "Request._app", "compat.request_app", _request_parts),
    Contract("celery", "Request._on_ack", "compat.ack_request", _request_parts),
    Contract("celery", "Request._connection_errors", "compat.ack_request", _request_parts),
    Contract(
        "celery",
        "DelayedDelivery._setup_delayed_delivery",
        "routing.delayed_binding",
        lambda: _first(
            _method(DelayedDelivery, "_setup_delayed_delivery", ("c", "broker_url")),
            _calls(DelayedDelivery, "start", "_setup_delayed_delivery"),
        ),
    ),
    Contract(
        "celery",
        "BasePool._get_info",
        "execution.inline_pool",
        lambda: _first(_method(BasePool, "_get_info", ()), _calls(BasePool, "info", "_get_info")),
    ),
    Contract(
        "celery",
        "Consumer._maximum_prefetch_restored",
        "compat.prefetch_restoring (execution.strategy)",
        _prefetch_restoring,
    ),
    Contract("celery", "CONSUMER_CONNECTION_STEP", "execution.inline_pool", _steps),
    Contract("celery", "DELAYED_DELIVERY_STEP", "routing.delayed_binding", _steps),
    Contract("kombu", "Message.reject_log_error", "deadletter.consumer", _reject_log_error),
    Contract("amqp", "Connection.frame_writer", "execution.write_lock", _frame_writer),
    Contract("amqp", "TCPTransport._read", "compat.buffer_amqp_reads", _chunked_reads),
    Contract("amqp", "TCPTransport._read_buffer", "compat.buffer_amqp_reads", _chunked_reads),
    Contract("amqp", "TCPTransport._quick_recv", "compat.buffer_amqp_reads", _chunked_reads),
    Contract("amqp", "Connection.send_heartbeat", "execution.guard", _heartbeat_attributes),
    Contract(
        "amqp", "Connection.last_heartbeat_received", "execution.guard", _heartbeat_attributes
    ),
    Contract(
        "amqp", "Channel._basic_publish", "producer.bulk, producer.fast_apply", _basic_publish
    ),
    Contract("amqp", "Message.PROPERTIES", "producer.amqp_frames", _message_properties),
    Contract("amqp", "Message._serialize_properties", "producer.amqp_frames", _message_properties),
    Contract("pika", "BaseConnection._adapter_emit_data", "producer.publisher", _emit_data),
    Contract("billiard", "billiard.util._run_after_forkers", "execution.isolated", _after_forkers),
)


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c.name for c in CONTRACTS])
def test_the_installed_version_keeps_the_private_name(contract: Contract) -> None:
    version = metadata.version(contract.library)
    try:
        problem = contract.check()
    except (AttributeError, ImportError, TypeError, ValueError) as exc:
        problem = f"cannot be checked: {exc!r}"
    assert problem is None, (
        f"{contract.library} {version}: {contract.name} {problem}. Switchyard relies on it in "
        f"{contract.used_in} (see compat and docs/internals.md): adapt that use, or keep "
        f"{contract.library} at a release the contract tests pass on."
    )


def _documented_names(text: str) -> set[str]:
    return {c.name for c in CONTRACTS if c.short_name in text}


def test_every_checked_name_is_listed_in_compat_and_in_the_docs() -> None:
    listed = compat.__doc__ or ""
    docs = (ROOT / "docs" / "internals.md").read_text()
    names = {c.name for c in CONTRACTS}
    assert names - _documented_names(listed) == set(), "missing from compat's docstring"
    assert names - _documented_names(docs) == set(), "missing from docs/internals.md"


def test_every_checked_name_is_still_used() -> None:
    """A name no code uses any more is dropped from the list, not checked forever."""
    sources = "\n".join(
        text for path, text in first_party_sources() if path.parent.name != "compat"
    )
    sources += (ROOT / "compat" / "__init__.py").read_text().split('"""', 2)[2]
    unused = {c.name for c in CONTRACTS if c.short_name not in sources}
    assert unused == set(), f"listed in compat but used nowhere: {sorted(unused)}"
