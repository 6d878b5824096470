"""What a worker needs before it starts: its queues on the broker, the result tables.

With the topology Job a regular resource (not a pre-install hook), workers start together
with it. A worker whose queues are not declared yet would fail its first binding with
NOT_FOUND and restart in a loop; the chart runs `switchyard topology wait` as an init
container instead, which polls until everything exists and names what is still missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from amqp.exceptions import AMQPError, NotFound
from kombu import Connection

from results.tables import OWN_TABLES

Check = Callable[[], list[str]]


def missing_queues(broker_url: str, queues: Sequence[str]) -> list[str]:
    """The queues of `queues` the broker does not have (a passive declare each, which
    needs no configure permission: a pool's own broker user may run it)."""
    missing = []
    with Connection(broker_url, heartbeat=0, connect_timeout=5) as conn:
        channel: Any = conn.channel()
        for name in queues:
            try:
                channel.queue_declare(queue=name, passive=True)
            except NotFound:
                missing.append(f"queue {name!r}")
                channel = conn.channel()  # a failed passive declare closes the channel
        channel.close()
    return missing


def missing_tables(database_url: str) -> list[str]:
    """Switchyard's result tables the database does not have yet (visible on the search path).

    Asked through psycopg, as the pool's init container runs it: no SQLAlchemy in a pod that
    does not migrate.
    """
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        present = {
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r', 'p') "
                "AND pg_table_is_visible(c.oid) AND c.relname = ANY(%s)",
                (list(OWN_TABLES),),
            )
        }
    return [f"table {name!r}" for name in OWN_TABLES if name not in present]


def wait_ready(
    checks: Sequence[Check],
    timeout_s: float,
    interval_s: float = 2.0,
    report: Callable[[str], None] = print,
) -> list[str]:
    """Run the checks until none reports anything missing; return what is still missing
    at the deadline (empty: ready). A service that cannot be reached counts as missing."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing: list[str] = []
        for check in checks:
            try:
                missing += check()
            except (OSError, AMQPError, psycopg.Error) as exc:
                missing.append(f"unreachable: {type(exc).__name__}: {exc}")
        if not missing or time.monotonic() >= deadline:
            return missing
        report(f"waiting for {', '.join(missing)}")
        time.sleep(interval_s)
