"""Retention without beat: the processes that write results also expire old ones.

Stock Celery deletes expired results from a daily beat task that deletes everything in one
statement, which times out on a big table and does nothing without beat. Here each writing
process, at most once per `interval_s`, deletes one bounded batch per table of rows not
written for `result_expires`, oldest first, skipping rows another process is deleting. A full
batch means more is waiting, so the next batch comes after `backlog_interval_s` instead.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from psycopg import sql

from results.connections import Connection, statement
from results.tables import OWN_TABLES

BATCH_SIZE = 1000
INTERVAL_S = 300.0
BACKLOG_INTERVAL_S = 1.0

_DELETE_EXPIRED = {
    table: statement(
        "DELETE FROM {t} WHERE ctid = ANY(ARRAY("
        "SELECT ctid FROM {t} WHERE updated_at < now() - make_interval(secs => %(expires)s) "
        "ORDER BY updated_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED))",
        t=sql.Identifier(table),
    )
    for table in OWN_TABLES
}


def delete_expired_batch(conn: Connection, expires_s: float, batch_size: int) -> dict[str, int]:
    """Delete at most `batch_size` expired rows per table; the count deleted per table."""
    deleted = {}
    for table, delete in _DELETE_EXPIRED.items():
        cursor = conn.execute(delete, {"expires": expires_s, "batch": batch_size})
        deleted[table] = cursor.rowcount
    return deleted


@dataclass
class Retention:
    """When this process deletes its next batch. `expires_s` None or 0 keeps everything."""

    expires_s: float | None
    batch_size: int = BATCH_SIZE
    interval_s: float = INTERVAL_S
    backlog_interval_s: float = BACKLOG_INTERVAL_S
    _next_due: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        # Spread the first batch of many processes started together over the interval.
        self._next_due = time.monotonic() + random.uniform(0, self.interval_s)  # noqa: S311

    def due(self) -> bool:
        """True for one caller once the interval has passed; that caller runs `run`."""
        if not self.expires_s:
            return False
        with self._lock:
            now = time.monotonic()
            if now < self._next_due:
                return False
            self._next_due = now + self.interval_s
            return True

    def run(self, conn: Connection) -> dict[str, int]:
        """Delete one batch per table now; schedule the next one sooner if any was full."""
        if not self.expires_s:
            return {}
        deleted = delete_expired_batch(conn, self.expires_s, self.batch_size)
        full = max(deleted.values()) >= self.batch_size
        with self._lock:
            self._next_due = time.monotonic() + (
                self.backlog_interval_s if full else self.interval_s
            )
        return deleted

    def run_until_done(self, conn: Connection) -> int:
        """Delete every expired row, batch after batch (Celery's `backend_cleanup`)."""
        total = 0
        while True:
            deleted = self.run(conn)
            total += sum(deleted.values())
            if not deleted or max(deleted.values()) < self.batch_size:
                return total
