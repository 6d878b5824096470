"""Every private name of Celery, kombu, py-amqp and billiard that Switchyard relies on.

Public hooks come first (signals, bootsteps, Task and Request subclasses, result backend
entry points). Where none does the job, the private name is listed here, reached through
this package where a call can be routed, and checked by
`tests/unit/test_internals_contract.py`, which fails naming the name and the installed
version when a release renames, removes or reshapes it. `docs/internals.md` has the same
list and the dependency pins. This package imports nothing of Switchyard's: any layer may
import it.

Tested with celery 5.7.0, kombu 5.7.0, amqp 5.4.2 and billiard 4.3.2; pinned in
pyproject.toml to celery and kombu ~=5.7.0, amqp 5.4 (>=5.4.1) and billiard 4.3 (>=4.3.1).
The releases before them (celery 5.6.3, kombu 5.6.2, amqp 5.4.1, billiard 4.3.1, installed
together) fail two checks, both celery's: 5.6 has no `AMQP._retry_publish` and no
`BaseBackend._ensure_retryable`; the kombu, amqp and billiard checks pass on them.

Private names, where they are used, and why:

celery
- `AMQP._create_task_sender` (overridden in `metrics.producer`): the one function every task
  publish goes through; wrapped to count publishes that raise (no signal for a failure).
- `AMQP._retry_publish` (`publish_callback` here; `results.backend`): sends a chord body
  with the publish retries Celery's own backends use for it.
- `celery.utils.functional._regen` (`LazyGroupResults` here; `results.backend`): a chord
  header still being generated, as Celery's own `apply_chord` tells it apart.
- `BaseBackend._store_result`, `_get_task_meta_for`, `_forget`, `_save_group`,
  `_restore_group`, `_delete_group` (overridden) and `_ensure_retryable` (called) in
  `results.backend`: the hooks a result backend implements, as every stock backend does.
- `Request._message`, `_app`, `_on_ack`, `_connection_errors` (`request_message`,
  `request_app`, `ack_request` here; `deadletter.request`): a reject republishes the
  message and then acknowledges it as Celery's own `acknowledge` does.
- `DelayedDelivery._setup_delayed_delivery` (overridden in `routing.delayed_binding`): binds
  only the consumed queues, which a pool's broker user may bind.
- `Consumer._maximum_prefetch_restored` (`prefetch_restoring` here; `execution.strategy`):
  while Celery restores its prefetch count after a reconnect, one step per ack, a request
  keeps Celery's own ack instead of the inline pool's ack batch.
- `BasePool._get_info` (overridden in `execution.inline_pool`): what `inspect stats` shows.
- `CONSUMER_CONNECTION_STEP`, `DELAYED_DELIVERY_STEP` here: the names of Celery's consumer
  bootsteps the inline pool's step requires and `routing.delayed_binding` replaces.

kombu
- `Message.reject_log_error`, replaced on one message (`deadletter.consumer`): Celery's
  stock handlers of unknown and invalid tasks reject through it; the replacement
  dead-letters with a reason and keeps the rest of their bookkeeping.

py-amqp
- `Connection.frame_writer` (`frame_writer`, `replace_frame_writer` here;
  `execution.write_lock`): every frame a connection writes goes through it; wrapped with
  a lock so that the inline pool's guard and the worker's thread never write at once.
- `Connection.send_heartbeat`, `heartbeat`, `last_heartbeat_received`, `transport.sock`
  (`execution.guard`): undocumented, not private; the guard keeps the connection alive.
- `Channel._basic_publish` (`producer.bulk`, `producer.fast_apply`): a publish that does not
  wait for its confirm, on a confirm channel whose `basic_publish` does; the fast path's
  first call of a shape then waits for its own confirm, among others' in flight, and raises
  `MessageNacked` as `basic_publish_confirm` does.
- `TCPTransport._read`, `_read_buffer`, `_quick_recv` (`buffer_amqp_reads` here; installed
  in every worker by `config.app`): py-amqp reads each frame with three `recv` calls sized
  to the frame's parts, nine system calls per task message; read in chunks instead, a
  backlog of small messages costs about one call per chunk.
- `basic_message.Message.PROPERTIES` and `Message._serialize_properties` (`producer.amqp_frames`):
  the order and encoding of message properties, reproduced byte for byte.

pika
- `BaseConnection._adapter_emit_data` (`write_frames` here; `producer.publisher`): writes
  bytes to the connection's transport; the API's publisher writes frames encoded byte for
  byte as py-amqp encodes Celery's message (`producer.amqp_frames`), which pika's own
  `basic_publish` would encode again, differently.

billiard
- `billiard.util._run_after_forkers` (`run_after_forkers` here; `execution.isolated`): the
  after-fork hooks Celery and kombu register, run in the inline pool's forked child as a
  prefork child runs them.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from logging import Logger
from typing import Any

from amqp import transport as amqp_transport
from billiard import util as billiard_util
from celery.utils import functional as celery_functional

CONSUMER_CONNECTION_STEP = "celery.worker.consumer.connection:Connection"
DELAYED_DELIVERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"

LazyGroupResults: type = celery_functional._regen  # type: ignore[attr-defined]

FrameWriter = Callable[[int, int, Any, Any, Any], Any]


def publish_callback(app: Any, publish: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`publish(*args, **kwargs)` with the retries Celery gives a callback's publish."""
    return app.amqp._retry_publish(publish, *args, **kwargs)


def request_message(request: Any) -> Any:
    """The kombu message a worker request was built from."""
    return request._message


def request_app(request: Any) -> Any:
    """The Celery app of a worker request."""
    return request._app


def ack_request(request: Any, logger: Logger) -> None:
    """Acknowledge a request's message as Celery does, logging connection errors."""
    request._on_ack(logger, request._connection_errors)


def prefetch_restoring(consumer: Any) -> bool:
    """Whether Celery is raising `consumer`'s prefetch count back, one step per ack."""
    return not getattr(consumer, "_maximum_prefetch_restored", True)


def frame_writer(connection: Any) -> FrameWriter:
    """The function a py-amqp connection writes every frame with."""
    writer: FrameWriter = connection.frame_writer
    return writer


def replace_frame_writer(connection: Any, writer: FrameWriter) -> None:
    """Make `writer` the function the connection writes every frame with."""
    connection.frame_writer = writer


def write_frames(connection: Any, frames: bytes) -> None:
    """Write encoded AMQP frames on an open pika connection, as pika writes its own."""
    connection._adapter_emit_data(frames)


def run_after_forkers() -> None:
    """Run the after-fork hooks registered with billiard (and so by Celery and kombu)."""
    billiard_util._run_after_forkers()  # type: ignore[attr-defined]


# What one `recv` asks for when a frame part is not buffered yet: several small task messages
# (each three frames) per call, while the copy of what is left after a frame stays small.
AMQP_READ_CHUNK = 8192


def buffer_amqp_reads(chunk: int = AMQP_READ_CHUNK) -> None:
    """Make py-amqp's TCP transport read up to `chunk` bytes per `recv`, not exactly a frame
    part's size; idempotent. What it returns, and what it keeps on a timeout or an error,
    are as py-amqp's own `_read`: exactly `n` bytes, or nothing consumed."""
    transport: Any = amqp_transport.TCPTransport
    installed = transport.__dict__["_read"]
    if getattr(installed, "buffered_chunk", None) == chunk:
        return

    def _read(
        self: Any,
        n: int,
        initial: bool = False,
        _errnos: tuple[int, ...] = (errno.EAGAIN, errno.EINTR),
    ) -> bytes:
        rbuf = self._read_buffer
        if len(rbuf) < n:
            recv = self._quick_recv
            try:
                while len(rbuf) < n:
                    try:
                        s = recv(max(n - len(rbuf), chunk))
                    except OSError as exc:
                        if exc.errno in _errnos:
                            if initial and self.raise_on_initial_eintr:
                                raise TimeoutError() from None
                            continue
                        raise
                    if not s:
                        raise OSError("Server unexpectedly closed connection")
                    rbuf += s
            except BaseException:
                self._read_buffer = rbuf
                raise
        result, self._read_buffer = rbuf[:n], rbuf[n:]
        return bytes(result)

    _read.buffered_chunk = chunk  # type: ignore[attr-defined]
    _read.replaces = getattr(installed, "replaces", installed)  # type: ignore[attr-defined]
    transport._read = _read
