"""A rate limit that holds for the whole deployment: a token bucket in PostgreSQL.

Celery's `rate_limit` is a token bucket in each worker's memory: three replicas of a 10/m
pool make about 30 calls a minute, and a task over budget is held in the worker,
unacknowledged, where it takes a prefetch slot and can outlive the broker's consumer
timeout. A task declared with `shared_rate_limit` instead takes its token from one row per
bucket in PostgreSQL, which every replica and process shares, when the worker receives it.
A task over budget is not held: a copy goes back through the broker's delay exchanges,
due when the bucket will have a token, and the original is acknowledged. No Redis.

Declared on the task::

    @app.task(shared_rate_limit="10/m", rate_limit_burst=1,
              rate_limit_key=lambda args, kwargs: kwargs["customer"])

`rate_limit_key` (optional) gives each key its own bucket (per customer, per host). The
bucket refills continuously; it holds at most `rate_limit_burst` tokens, so any window of
T seconds sees at most `burst + T * rate` runs. The token is taken when the worker receives
the message: a rate-limited pool keeps prefetch 1 so that receiving is starting.
Celery's own `rate_limit` still works for whoever wants a per-worker limit.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from celery import Celery, Task
from celery.exceptions import ImproperlyConfigured
from celery.utils.time import rate
from celery.worker.strategy import default as default_strategy
from kombu.message import Message
from kombu.transport.native_delayed_delivery import calculate_routing_key
from psycopg import sql

from deadletter.publish import republish, source_queue
from results.connections import Connection, ProcessPool, statement
from results.tables import RATE_BUCKET
from routing.names import DELAY_ENTRY_EXCHANGE, DELAY_EXCHANGES

# The app conf key naming the buckets' database when the result backend is not Switchyard's.
BUCKET_DATABASE_KEY = "switchyard_rate_limit_database_url"

logger = logging.getLogger(__name__)

# Without the database there is no token: a task is deferred this long and tries again.
NO_DATABASE_DEFER_S = 5
RateLimitKey = Callable[[tuple[Any, ...], dict[str, Any]], str]

_TAKE = statement(
    "INSERT INTO {t} AS b (bucket, tokens, updated_at) "
    "VALUES (%(bucket)s, %(burst)s::float8 - 1, statement_timestamp()) "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "tokens = LEAST(%(burst)s::float8, b.tokens + %(rate)s::float8 * "
    "EXTRACT(EPOCH FROM statement_timestamp() - b.updated_at)::float8) - 1, "
    "updated_at = statement_timestamp() "
    "WHERE LEAST(%(burst)s::float8, b.tokens + %(rate)s::float8 * "
    "EXTRACT(EPOCH FROM statement_timestamp() - b.updated_at)::float8) >= 1 "
    "RETURNING tokens",
    t=sql.Identifier(RATE_BUCKET),
)
_LEVEL = statement(
    "SELECT LEAST(%(burst)s::float8, tokens + %(rate)s::float8 * "
    "EXTRACT(EPOCH FROM statement_timestamp() - updated_at)::float8) FROM {t} "
    "WHERE bucket = %(bucket)s",
    t=sql.Identifier(RATE_BUCKET),
)


@dataclass(frozen=True)
class SharedRateLimit:
    """`per_second` tokens a second, at most `burst` of them saved up."""

    per_second: float
    burst: int = 1

    @classmethod
    def parse(cls, spec: str, burst: int = 1, *, task: str = "") -> SharedRateLimit:
        """From Celery's notation, "10/m", "2/s" or "100/h".

        Raises:
            ImproperlyConfigured: naming the task, for a limit that is not positive.
        """
        per_second = float(rate(spec))
        if per_second <= 0 or burst < 1:
            raise ImproperlyConfigured(
                f"task {task}: shared_rate_limit {spec!r} and rate_limit_burst {burst} "
                "must both be positive"
            )
        return cls(per_second, burst)


def bucket_name(task_name: str, key: str | None = None) -> str:
    return task_name if key is None else f"{task_name}:{key}"


def take(conn: Connection, bucket: str, limit: SharedRateLimit) -> float:
    """Take one token; 0.0 when taken, else the seconds until the bucket has one.

    The upsert locks the bucket's row, so concurrent takers are served one after the other
    and the tokens never go below zero; the database's clock is the only clock."""
    params = {"bucket": bucket, "burst": limit.burst, "rate": limit.per_second}
    if conn.execute(_TAKE, params).fetchone() is not None:
        return 0.0
    row = conn.execute(_LEVEL, params).fetchone()
    level = float(row[0]) if row is not None else 0.0
    return max((1.0 - level) / limit.per_second, 0.0)


def without_delay_deaths(headers: dict[str, Any]) -> dict[str, Any]:
    """`headers` without the broker's record of earlier trips through the delay queues.

    Each trip dead-letters the message out of a delay queue, and RabbitMQ notes it in
    `x-death`. A copy sent on the same trip again with that note would look like a
    dead-letter cycle, which RabbitMQ ends by dropping the message without a word. Deaths
    in any other queue (a real dead-lettering) are kept."""
    kept = {
        k: v for k, v in headers.items() if not k.startswith(("x-first-death-", "x-last-death-"))
    }
    deaths = [
        d
        for d in headers.get("x-death") or []
        if not (isinstance(d, dict) and d.get("queue") in DELAY_EXCHANGES)
    ]
    kept.pop("x-death", None)
    if deaths:
        kept["x-death"] = deaths
    return kept


def defer(app: Celery, message: Message, delay_s: float) -> None:
    """Send a copy of `message` through the delay exchanges, due in `delay_s` (whole
    seconds, at least one, plus a jitter of up to one second so deferred tasks do not all
    come back in the same instant); the caller acknowledges the original."""
    countdown = max(1, math.ceil(delay_s) + random.randint(0, 1))  # noqa: S311
    queue = source_queue(message)
    republish(
        app,
        message,
        exchange=DELAY_ENTRY_EXCHANGE,
        routing_key=calculate_routing_key(countdown, queue),
        extra_headers={},
        base_headers=without_delay_deaths(message.headers or {}),
    )


def _bucket_of(task: Task[Any, Any], key_of: RateLimitKey | None, message: Message) -> str:
    if key_of is None:
        return bucket_name(task.name)
    args, kwargs, _ = message.decode()
    return bucket_name(task.name, str(key_of(tuple(args), dict(kwargs))))


def bucket_pool(app: Celery, task_name: str) -> ProcessPool:
    """Where the buckets live: the Switchyard backend's own pool when the app has that
    backend, else a pool of the database `config` names under BUCKET_DATABASE_KEY, so a
    worker on Celery's stock backend (the benchmark's comparison) still starts and limits."""
    pool = getattr(app.backend, "pool", None)
    if isinstance(pool, ProcessPool):
        return pool
    url = (getattr(app, "conf", None) or {}).get(BUCKET_DATABASE_KEY)
    if not url:
        raise ImproperlyConfigured(
            f"task {task_name}: shared_rate_limit needs a PostgreSQL database for its "
            f"buckets: the switchyard result backend, or {BUCKET_DATABASE_KEY} in the app's conf"
        )
    return ProcessPool(str(url), application_name="switchyard-rate-limit")


def shared_rate_limit_strategy(
    task: Task[Any, Any], app: Celery, consumer: Any, **kwargs: Any
) -> Callable[..., Any]:
    """Celery's default strategy (a `Task.Strategy`), behind the shared bucket for a task
    that declares `shared_rate_limit`; unchanged for every other task."""
    handle: Callable[..., Any] = default_strategy(task, app, consumer, **kwargs)
    spec: str | None = getattr(task, "shared_rate_limit", None)
    if not spec:
        return handle
    limit = SharedRateLimit.parse(spec, int(getattr(task, "rate_limit_burst", 1)), task=task.name)
    # Read from the class: a function stored on a task class would bind to the task.
    key_of: RateLimitKey | None = getattr(type(task), "rate_limit_key", None)
    pool = bucket_pool(app, task.name)

    def task_message_handler(message: Message, *args: Any, **kw: Any) -> Any:
        try:
            bucket = _bucket_of(task, key_of, message)
        except Exception:  # a body of the wrong shape: the stock handler dead-letters it
            return handle(message, *args, **kw)
        try:
            with pool.connection() as conn:
                wait = take(conn, bucket, limit)
        except psycopg.Error as exc:
            logger.warning("rate bucket %s unavailable (%s); deferring", bucket, exc)
            wait = NO_DATABASE_DEFER_S
        if wait <= 0:
            return handle(message, *args, **kw)
        defer(app, message, wait)
        message.ack()
        logger.info(
            "%s[%s] over its shared rate limit; deferred %.1f s",
            task.name,
            (message.headers or {}).get("id"),
            wait,
        )
        return None

    return task_message_handler
