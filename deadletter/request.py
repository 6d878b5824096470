"""A Celery request that dead-letters with a reason and bounds redelivery.

Stock Celery, on `Reject(requeue=False)`, rejects the message: RabbitMQ dead-letters it
without saying why. On a lost worker (SIGKILL, OOM) with `task_reject_on_worker_lost` it
requeues it, forever: a task that kills its worker takes the pool down in a loop. Here both
go through `reject`, which republishes: to the dead-letter queue with the reason, or back to
the work queue with a loss counter until `MAX_WORKER_LOSSES`, then to the dead-letter queue.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Signature, Task
from celery.exceptions import Reject
from celery.worker.request import Request

from compat import ack_request, request_app, request_message
from deadletter import headers
from deadletter.publish import dead_letter, requeue_counted
from routing.names import DELAY_EXCHANGES, TASK_EXCHANGE, queue_of_routing_key

MAX_WORKER_LOSSES = 3

logger = logging.getLogger(__name__)


class DeadLetteringRequest(Request):
    __slots__ = ("_reject_reason",)

    def on_failure(
        self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
    ) -> Any:
        exc = getattr(exc_info, "exception", None)
        exc = getattr(exc, "exc", exc)  # unwrap ExceptionWithTraceback
        if isinstance(exc, Reject):
            self._reject_reason = f"rejected by task: {getattr(exc, 'reason', exc)!s}"
        else:
            self._reject_reason = f"{type(exc).__name__}: {exc!s}"
        return super().on_failure(exc_info, send_failed_event, return_ok)

    def reject(self, requeue: bool = False) -> None:
        if self.acknowledged:
            return
        message = request_message(self)
        app = request_app(self)
        reason = getattr(self, "_reject_reason", None) or "rejected"
        try:
            if requeue:
                losses = int((message.headers or {}).get(headers.WORKER_LOSSES, 0)) + 1
                if losses < MAX_WORKER_LOSSES:
                    requeue_counted(app, message, losses)
                else:
                    dead_letter(
                        app,
                        message,
                        f"worker lost {losses} times running it; last: {reason}",
                        kind="worker_lost",
                    )
            else:
                dead_letter(app, message, reason, kind="rejected")
        except Exception:
            # The copy was not confirmed: fall back to the broker's own reject, which
            # requeues or dead-letters natively. Nothing is acknowledged without a copy.
            logger.exception("republishing %s failed; rejecting natively", self.id)
            super().reject(requeue=requeue)
            return
        ack_request(self, logger)
        self.acknowledged = True
        self.send_event("task-rejected", requeue=requeue)


class DeadLetteringTask(Task[Any, Any]):
    """The base of every task: its requests dead-letter with a reason."""

    Request = "deadletter.request:DeadLetteringRequest"

    def signature_from_request(
        self,
        request: Any = None,
        args: Any = None,
        kwargs: Any = None,
        queue: Any = None,
        **extra_options: Any,
    ) -> Signature[Any]:
        """A retry goes back through the task exchange under its queue's own routing key.

        Celery copies the delivery's exchange and routing key into a retry without a
        countdown; for a task that came through delayed delivery that is a delay exchange
        (the one its last delay queue dead-lettered it to) and a key still carrying the old
        delay bits. It may happen to route, but a pool's broker user may not publish there
        (`routing.permissions`)."""
        signature: Signature[Any] = super().signature_from_request(
            request, args, kwargs, queue, **extra_options
        )
        options = signature.options
        if options.get("exchange") in DELAY_EXCHANGES:
            options["exchange"] = TASK_EXCHANGE
            options["routing_key"] = queue_of_routing_key(str(options.get("routing_key", "")))
        return signature
