"""Acknowledgements settled in batches: one `basic.ack(multiple=True)` for many tasks.

With late acks, every task costs one `basic.ack` frame written by the worker's thread; on a
no-op task that write was the largest single part of an inline worker's CPU
(docs/pools.md). An inline worker runs its messages one at a time, in delivery order,
so after it has run several of them a single ack with `multiple=True` and the highest
delivery tag settles them all, exactly as one ack each would.

Each ack is still sent only after its task has run: the batch holds acks back, never
sends one early. It is written when any of these comes first:

- `max_count` tasks have finished unacknowledged;
- the oldest of them finished `max_delay_s` ago (checked on every finish, before every
  task starts, and by a timer of the worker's event loop while it is idle);
- the consumer stops, or a message arrives on a new channel.

`multiple=True` settles every earlier delivery on the channel, so the batch only advances
over a prefix of deliveries that are all settled: finished here, or acknowledged or rejected
directly (a deferred rate-limited task, a dead-lettered message). A message held unsettled
(an ETA task waiting in the worker) stops the prefix; finished tasks behind it are then
acked one by one, so the bounds hold whatever the order.

What a crash costs: the broker redelivers what the connection held unacknowledged, which
the prefetch limit bounds as before (acks held back count against it); among those, at most
`max_count` had already run. `max_count` is kept below the prefetch count, or the broker
would stop delivering while the worker waits for its batch to fill.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_ACK_BATCH_SIZE = 32
DEFAULT_ACK_BATCH_DELAY_MS = 50.0
# The app's configuration key (`config.app` fills it from the settings): (size, delay in ms).
ACK_BATCH_KEY = "switchyard_ack_batch"

Ack = Callable[[logging.Logger, tuple[type[BaseException], ...]], None]


def effective_batch(max_count: int, prefetch_count: int) -> int:
    """The batch size used under `prefetch_count` (0: no limit): at most half of it, so
    the broker always has room to deliver while acks wait; 1 means one ack per task."""
    if prefetch_count > 0:
        max_count = min(max_count, prefetch_count // 2)
    return max(1, max_count)


class AckBatch:
    """The acks of one worker's tasks, held back within a count and a time bound.

    Used from the worker's own thread only (the inline pool's): no lock."""

    def __init__(
        self,
        max_count: int,
        max_delay_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_count < 1 or max_delay_s < 0:
            raise ValueError(
                f"ack batch: max_count {max_count} must be >= 1 and max_delay_s {max_delay_s} >= 0"
            )
        self.configured_count = self.max_count = max_count
        self.max_delay_s = max_delay_s
        self._clock = clock
        self._channel: Any = None
        self._received: dict[int, Any] = {}  # delivery tag -> message, in delivery order
        self._finished: set[int] = set()
        self._oldest: float | None = None
        self.frames_written = 0

    def fit_prefetch(self, prefetch_count: int) -> None:
        """Keep the batch below the consumer's prefetch count (see `effective_batch`)."""
        self.max_count = effective_batch(self.configured_count, prefetch_count)

    @property
    def held(self) -> int:
        """Finished tasks whose ack has not been written yet."""
        return len(self._finished)

    def received(self, message: Any) -> Ack:
        """Track a delivered task message; returns the ack its request calls when it ends."""
        if message.channel is not self._channel:
            self.flush()  # what the old channel still holds, if it is alive
            self._channel = message.channel
            self._received.clear()
            self._finished.clear()
            self._oldest = None
        tag = int(message.delivery_tag)
        self._received[tag] = message

        def ack(_logger: logging.Logger, errors: tuple[type[BaseException], ...]) -> None:
            self.finished(message, errors)

        return ack

    def finished(self, message: Any, errors: tuple[type[BaseException], ...] = ()) -> None:
        """The task of `message` has run: its ack is now owed."""
        if message.channel is not self._channel:
            self._ack_alone(message, errors)
            return
        self._finished.add(int(message.delivery_tag))
        now = self._clock()
        if self._oldest is None:
            self._oldest = now
        if len(self._finished) >= self.max_count or now - self._oldest >= self.max_delay_s:
            self.flush()

    def flush_due(self) -> None:
        """Write the held acks if the oldest has waited `max_delay_s` (timers, task start)."""
        if self._oldest is not None and self._clock() - self._oldest >= self.max_delay_s:
            self.flush()

    def flush(self) -> None:
        """Write every held ack now."""
        if not self._finished:
            return
        channel = self._channel
        highest = None
        received = self._received
        for tag in list(received):
            if tag in self._finished:
                self._finished.discard(tag)
                highest = tag
            elif not received[tag].acknowledged:
                break  # held unsettled (an ETA task): the prefix stops here
            del received[tag]
        alone = sorted(self._finished)
        self._finished.clear()
        self._oldest = None
        try:
            if highest is not None:
                channel.basic_ack(highest, multiple=True)
                self.frames_written += 1
            for tag in alone:
                received.pop(tag, None)
                channel.basic_ack(tag)
                self.frames_written += 1
        except Exception as exc:  # the worker carries on, as it does after one failed ack
            # As kombu's ack_log_error: the connection is gone, and with it the delivery
            # tags; the broker redelivers those messages.
            logger.critical("could not acknowledge %d task(s): %r", len(alone) + 1, exc)

    def _ack_alone(self, message: Any, errors: tuple[type[BaseException], ...]) -> None:
        """A message of an earlier channel: acked as Celery would, the error logged."""
        message.ack_log_error(logger, errors)
