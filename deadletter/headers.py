"""Message headers this project adds; defined once, read by workers, tools and tests."""

from __future__ import annotations

REASON = "x-switchyard-reason"
SOURCE_QUEUE = "x-switchyard-source-queue"
WORKER_LOSSES = "x-switchyard-worker-losses"
