"""Database connections of one process: a lazily opened pool, replaced after a fork.

A prefork worker's children inherit the parent's memory, pool included; its sockets belong
to the parent's sessions. A child therefore never uses, closes or lets go of an inherited
pool (closing one would end the parent's sessions): it keeps a reference and opens its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

Connection = psycopg.Connection[TupleRow]

POOL_MAX_SIZE = 8  # connections are opened on demand; a prefork child uses one or two
CHECKOUT_TIMEOUT_S = 10.0  # then PoolTimeout, which the backend retries with backoff
CONNECT_TIMEOUT_S = 5
# Keepalives notice a database host that vanished without closing the connection.
TCP_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}

# Errors of the connection, not of the statement: retried on a fresh connection.
RETRYABLE = (psycopg.OperationalError, psycopg.InterfaceError)

# Pools inherited through fork: kept referenced so that no finalizer ever closes them.
_inherited: list[ConnectionPool[Connection]] = []


def connect_kwargs(application_name: str) -> dict[str, Any]:
    """Keyword arguments of every connection: autocommit, so a statement is a round trip."""
    return {
        "autocommit": True,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "application_name": application_name,
        **TCP_KEEPALIVE,
    }


def statement(template: str, **parts: sql.Composable) -> bytes:
    """A statement with identifiers filled in, as bytes, composed once at import.

    Composing a `psycopg.sql` statement on every execution costs about as much as the
    round trip itself; the bytes are reused and psycopg prepares them after a few uses.
    """
    return sql.SQL(template).format(**parts).as_bytes(None)


class ProcessPool:
    """One psycopg pool per process for `url`, opened on first use."""

    def __init__(self, url: str, application_name: str = "switchyard-results") -> None:
        self.url = url
        self.application_name = application_name
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None
        self._pid = 0

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection for one unit of work; a broken one is discarded on return."""
        with self._current().connection(timeout=CHECKOUT_TIMEOUT_S) as conn:
            yield conn

    def close(self) -> None:
        """Close this process's pool (never an inherited one)."""
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None and self._pid == os.getpid():
                pool.close()

    def _current(self) -> ConnectionPool[Connection]:
        pool = self._pool
        if pool is not None and self._pid == os.getpid():
            return pool
        with self._lock:
            if self._pool is not None and self._pid != os.getpid():
                _inherited.append(self._pool)
                self._pool = None
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    kwargs=connect_kwargs(self.application_name),
                    min_size=1,
                    max_size=POOL_MAX_SIZE,
                    open=False,
                    name=self.application_name,
                    num_workers=1,
                )
                self._pool.open(wait=False)
                self._pid = os.getpid()
            return self._pool
