"""Message headers this project adds; defined once, read by workers, tools and tests."""

from __future__ import annotations

REASON = "x-switchyard-reason"
SOURCE_QUEUE = "x-switchyard-source-queue"
WORKER_LOSSES = "x-switchyard-worker-losses"

# A replay strips the broker's `x-death` (a republished copy is a new message to the
# broker), so the history it had is carried in headers of our own: the deaths before the
# latest one, their reasons, and how often the message has been replayed.
DEATHS = "x-switchyard-deaths"
DEATH_REASONS = "x-switchyard-death-reasons"
REPLAYED = "x-switchyard-replayed"
# The replay run that republished a message, so that run never reads its own copy again.
REPLAY_RUN = "x-switchyard-replay-run"
# Why a message was parked instead of replayed.
PARKED_REASON = "x-switchyard-parked-reason"
