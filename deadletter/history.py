"""A dead letter's history: how often it died, why, and how often it was replayed.

The broker records deaths in `x-death`, but only on the message it dead-lettered: a
replayed copy is a new message, and a worker that republishes a message it cannot run adds
its own reason header instead. So a replay folds what the message carries into headers of
our own (`headers.DEATHS`, `headers.DEATH_REASONS`), which the broker and the worker both
pass on untouched, and the next death is counted on top of them. Without that a poison
message starts at one death after every replay and can cycle for ever.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from deadletter import headers
from routing.names import DLQ_SUFFIX, PARKED_SUFFIX

# Headers that describe one death, or the broker's view of it; a replayed copy drops them.
_ONE_DEATH = frozenset(
    {
        headers.REASON,
        headers.SOURCE_QUEUE,
        headers.WORKER_LOSSES,
        headers.PARKED_REASON,
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)
# Reasons kept per message, newest last, each cut to a length a header can carry.
MAX_REASONS = 10
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class DeathHistory:
    """Everything known about a dead letter's past, counted across replays."""

    deaths: int
    reasons: tuple[str, ...]
    replays: int
    source_queue: str

    @property
    def reason(self) -> str:
        """The latest death's reason."""
        return self.reasons[-1] if self.reasons else ""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def latest_death(hdrs: Mapping[str, Any]) -> tuple[int, str, str]:
    """Deaths recorded on this copy of the message, the latest reason, and its queue.

    A worker's republish carries `headers.REASON` and counts one; the broker's own
    dead-lettering (a rejection, an exceeded delivery limit) carries `x-death` entries,
    each with its count; a message in `unroutable` died once, unrouted.
    """
    deaths = hdrs.get("x-death") or []
    if hdrs.get(headers.REASON):
        queue = hdrs.get(headers.SOURCE_QUEUE) or (deaths[0].get("queue") if deaths else "")
        return 1, _text(hdrs[headers.REASON]), _text(queue or "")
    if deaths:
        first = deaths[0]
        count = sum(int(d.get("count", 1)) for d in deaths)
        return count, f"broker: {_text(first.get('reason'))}", _text(first.get("queue") or "")
    return 1, "unroutable", ""


def history(hdrs: Mapping[str, Any] | None, queue: str) -> DeathHistory:
    """The whole history of a message read from dead-letter queue `queue`."""
    hdrs = hdrs or {}
    count, reason, source = latest_death(hdrs)
    earlier = tuple(_text(r) for r in hdrs.get(headers.DEATH_REASONS) or ())
    return DeathHistory(
        deaths=int(hdrs.get(headers.DEATHS, 0)) + count,
        reasons=(*earlier, reason[:MAX_REASON_CHARS])[-MAX_REASONS:],
        replays=int(hdrs.get(headers.REPLAYED, 0)),
        source_queue=source or _source_of(queue),
    )


def _source_of(queue: str) -> str:
    for suffix in (DLQ_SUFFIX, PARKED_SUFFIX):
        if queue.endswith(suffix):
            return queue.removesuffix(suffix)
    return ""


def carried_headers(hdrs: Mapping[str, Any] | None, past: DeathHistory) -> dict[str, Any]:
    """The headers of a copy that leaves the dead-letter queue: the task's own, with this
    death folded into the carried history and the single death's headers dropped."""
    kept = {k: v for k, v in (hdrs or {}).items() if k not in _ONE_DEATH}
    kept[headers.DEATHS] = past.deaths
    kept[headers.DEATH_REASONS] = list(past.reasons)
    return kept
