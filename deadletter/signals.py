"""Sent once per message moved to a dead-letter queue, for metrics and logs."""

from __future__ import annotations

from celery.utils.dispatch import Signal

# Arguments: queue (the work queue), kind (a short fixed word: undecodable,
# unknown_message, unknown_task, invalid_task, malformed, rejected, worker_lost), reason.
message_dead_lettered = Signal(
    name="message_dead_lettered", providing_args=["queue", "kind", "reason"]
)
