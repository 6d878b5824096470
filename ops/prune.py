"""Remove from the broker what the declaration no longer has: `switchyard topology prune`.

A queue that still holds messages is refused unless they are moved first (each message
acknowledged only once its copy in the target queue is confirmed) or the operator forces
the deletion. Message counts are the broker's own at the moment (a passive declare), not
the management API's statistics, which lag by seconds; quorum queues refuse `if-empty`
deletes, so each queue is counted again right before it is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ops.dlq import channel, depth
from routing.diff import Leftovers
from routing.management_api import ManagementAPI, quote


class PruneRefused(ValueError):
    """Pruning would delete messages; the message says how to keep or drop them."""


@dataclass(frozen=True)
class PrunePlan:
    """What to remove, and where the messages of non-empty queues go first."""

    leftovers: Leftovers
    force: bool = False
    move_to: str | None = None

    def check(self, declared_queues: set[str]) -> None:
        """Raises:
        PruneRefused: a queue holds messages and neither `move_to` nor `force` says
            what happens to them, or `move_to` is not a declared queue."""
        if self.move_to is not None and self.move_to not in declared_queues:
            raise PruneRefused(f"--move-to {self.move_to!r} is not a declared queue")
        full = {q: n for q, n in self.leftovers.queues.items() if n}
        if full and not self.force and self.move_to is None:
            listed = ", ".join(f"{q!r} ({n})" for q, n in sorted(full.items()))
            raise PruneRefused(
                f"queue(s) {listed} still hold messages: --move-to QUEUE moves them to a "
                "declared queue first, --force deletes them with the queue"
            )

    def lines(self) -> list[str]:
        out = []
        for queue, n in sorted(self.leftovers.queues.items()):
            if n and self.move_to:
                out.append(f"move {n} message(s) from {queue!r} to {self.move_to!r}")
            fate = " and its messages" if n and not self.move_to else ""
            out.append(f"delete queue {queue!r}{fate}")
        out += [f"unbind {s} -> {d} (key {k!r})" for s, d, k in self.leftovers.bindings]
        out += [f"delete exchange {e!r}" for e in self.leftovers.exchanges]
        out += [f"delete user {u!r}" for u in self.leftovers.users]
        return out


def count_now(leftovers: Leftovers, broker_url: str) -> Leftovers:
    """`leftovers` with each queue's messages as the broker counts them now: the larger of
    the ready messages and the management API's count (which includes unacknowledged)."""
    with channel(broker_url) as ch:
        counts = {q: max(n, depth(ch, q)) for q, n in leftovers.queues.items()}
    return replace(leftovers, queues=counts)


def move_messages(ch: Any, source: str, target: str) -> int:
    """Move what `source` holds now to `target`, confirmed one by one; return how many."""
    moved = 0
    for _ in range(depth(ch, source)):
        method, props, body = ch.basic_get(source, auto_ack=False)
        if method is None:
            break
        ch.basic_publish("", target, body, props, mandatory=True)
        ch.basic_ack(method.delivery_tag)
        moved += 1
    return moved


def prune(plan: PrunePlan, broker_url: str, api: ManagementAPI) -> list[str]:
    """Carry out `plan` (checked first by the caller); return a line per action done."""
    done = []
    with channel(broker_url) as ch:
        for queue, n in sorted(plan.leftovers.queues.items()):
            if n and plan.move_to:
                moved = move_messages(ch, queue, plan.move_to)
                done.append(f"moved {moved} message(s) from {queue!r} to {plan.move_to!r}")
            if not plan.force and depth(ch, queue):
                raise PruneRefused(f"queue {queue!r} received messages while pruning; kept")
            dropped = int(ch.queue_delete(queue).method.message_count)
            done.append(
                f"deleted queue {queue!r}" + (f" ({dropped} message(s))" if dropped else "")
            )
        for source, dest, key in plan.leftovers.bindings:
            ch.queue_unbind(dest, source, routing_key=key)
            done.append(f"unbound {source} -> {dest} (key {key!r})")
        for exchange in plan.leftovers.exchanges:
            ch.exchange_delete(exchange)
            done.append(f"deleted exchange {exchange!r}")
    for user in plan.leftovers.users:
        api.delete(f"users/{quote(user)}")
        done.append(f"deleted user {user!r}")
    return done
