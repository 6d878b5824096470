"""A worker consumer that dead-letters bad input with a reason and never crashes on it.

Stock Celery acknowledges a message it cannot decode (invalid JSON, non-UTF-8, a content
type it does not accept): the message is gone. A valid-JSON body of the wrong shape under
a real task header raises inside the consumer and the worker process exits, again on every
restart. Here every such message is copied to its queue's dead-letter queue with the
reason, acknowledged, and the worker takes the next message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer import Consumer
from kombu.message import Message

from deadletter.publish import dead_letter
from routing.delayed_binding import with_consumed_queues_step

logger = logging.getLogger(__name__)


class DeadLetteringConsumer(Consumer):
    Blueprint = with_consumed_queues_step(Consumer.Blueprint)

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        logger.error("undecodable message (%s): %s", message.content_type, exc)
        self._dead_letter(message, "undecodable", f"cannot decode {message.content_type}: {exc}")

    def on_unknown_message(self, body: Any, message: Message) -> None:
        self._route_reject(message, "unknown_message", "no task header: not a task message")
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        name = (message.headers or {}).get("task")
        self._route_reject(message, "unknown_task", f"no task registered as {name!r}")
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        self._route_reject(message, "invalid_task", f"invalid task message: {exc}")
        super().on_invalid_task(body, message, exc)

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Message], Any]:
        handler: Callable[[Message], Any] = super().create_task_handler(*args, **kwargs)
        connection_errors = self._connection_errors()

        def on_task_received(message: Message) -> Any:
            try:
                return handler(message)
            except connection_errors:
                raise
            except Exception as exc:
                # A body of the wrong shape fails while the request is built: stock Celery
                # lets this escape and the worker exits.
                logger.exception("malformed task message %s", (message.headers or {}).get("id"))
                return self._dead_letter(message, "malformed", f"malformed task message: {exc!r}")

        return on_task_received

    def _route_reject(self, message: Message, kind: str, reason: str) -> None:
        """Make the stock handler's native reject a dead-letter with our reason instead,
        keeping the rest of its bookkeeping (logs, FAILURE result, events, signals)."""

        def reject_log_error(_logger: Any, _errors: Any, requeue: bool = False) -> None:
            self._dead_letter(message, kind, reason)

        message.reject_log_error = reject_log_error  # type: ignore[method-assign,assignment]

    def _connection_errors(self) -> tuple[type[BaseException], ...]:
        inner: Any = self  # set by Consumer.__init__, unknown to the type stubs
        return tuple(inner.connection_errors)

    def _dead_letter(self, message: Message, kind: str, reason: str) -> None:
        try:
            dead_letter(self.app, message, reason, kind=kind)
        except Exception:
            logger.exception("dead-lettering failed; rejecting natively")
            message.reject_log_error(logger, self._connection_errors())  # broker's own DLX
            return
        message.ack_log_error(logger, self._connection_errors())
