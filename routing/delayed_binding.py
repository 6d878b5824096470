"""The worker's delayed-delivery step, limited to the queues the worker consumes.

Celery's own step declares every delay exchange and queue and binds every queue of the app
at each worker start. A pool's broker user may bind only its own queues, so Celery's step
would fail on the others; the delay exchanges themselves are declared once by
`switchyard topology declare`. This step binds the consumed queues (idempotent, and enough
for a queue added since the last declare), through the node the worker is connected to, and
logs what to run when the exchanges are missing.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from celery.bootsteps import Blueprint
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu.transport.native_delayed_delivery import bind_queue_to_native_delayed_delivery_exchange
from kombu.utils.functional import retry_over_time

from compat import DELAYED_DELIVERY_STEP

logger = logging.getLogger(__name__)
B = TypeVar("B", bound=Blueprint)

STEP = f"{__name__}:ConsumedQueuesDelayedDelivery"
BIND_RETRIES = 3
BIND_RETRY_INTERVAL_S = 1.0


class ConsumedQueuesDelayedDelivery(DelayedDelivery):
    name = "ConsumedQueuesDelayedDelivery"

    def start(self, c: Any) -> None:
        """Bind through the node this consumer is connected to, and only that one.

        Celery's step connects to every URL of a failover list in turn, retrying each, at
        every consumer start: after a broker node dies, each reconnecting worker first
        spends seconds on the dead node before it consumes. A binding belongs to the
        cluster, so the live node is enough.
        """
        url = c.connection.as_uri(include_password=True)
        try:
            retry_over_time(
                self._setup_delayed_delivery,
                args=(c, url),
                catch=(ConnectionRefusedError, OSError),
                interval_start=BIND_RETRY_INTERVAL_S,
                interval_step=BIND_RETRY_INTERVAL_S,
                interval_max=BIND_RETRY_INTERVAL_S,
                max_retries=BIND_RETRIES,
            )
        except Exception as exc:  # the worker consumes anyway; countdowns need the binding
            logger.warning("delayed delivery not bound through %s: %s", c.connection.as_uri(), exc)

    def _setup_delayed_delivery(self, c: Any, broker_url: str) -> None:
        with c.app.connection_for_write(url=broker_url) as connection:
            for queue in c.app.amqp.queues.consume_from.values():
                try:
                    bind_queue_to_native_delayed_delivery_exchange(connection, queue)
                except connection.channel_errors:
                    logger.error(
                        "cannot bind queue %r to the delay exchange; countdowns to it will not "
                        "arrive until `switchyard topology declare` has run",
                        queue.name,
                    )
                    raise


def with_consumed_queues_step(blueprint: type[B]) -> type[B]:
    """A consumer blueprint whose delayed-delivery step is this one instead of Celery's."""
    steps = [STEP if step == DELAYED_DELIVERY_STEP else step for step in blueprint.default_steps]
    return type(blueprint.__name__, (blueprint,), {"default_steps": steps})
