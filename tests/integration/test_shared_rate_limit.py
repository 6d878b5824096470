"""The shared rate limit against the real PostgreSQL and broker: one bucket for every
replica, and three workers of the `external-api` pool together within its 10/m."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from kombu import Connection
from psycopg import sql

from config.settings import get_settings
from execution.shared_rate_limit import SharedRateLimit, bucket_name, take
from ops.broker import consumer_counts
from ops.broker_users import pool_worker_env
from ops.fake_services import FakeServices
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from results.tables import RATE_BUCKET
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv
from tasks.external import call_external_rate_limited_api

Db = psycopg.Connection[tuple[Any, ...]]
WORKERS = 3
CALLS = 13  # at 10/m with a burst of 1 the last call comes 72 s after the first
PATH = "/external/calls"


def test_one_bucket_serves_every_taker_and_keys_are_apart(db: Db) -> None:
    limit = SharedRateLimit.parse("10/m")
    bucket = bucket_name("test.task", f"customer-{uuid.uuid4()}")
    assert take(db, bucket, limit) == 0.0
    wait = take(db, bucket, limit)
    assert 0 < wait <= 6.0  # one token every 6 s, and the bucket was just emptied
    assert take(db, bucket_name("test.task", f"other-{uuid.uuid4()}"), limit) == 0.0
    burst = SharedRateLimit.parse("10/m", burst=3)
    saved = bucket_name("test.task", f"burst-{uuid.uuid4()}")
    assert [take(db, saved, burst) for _ in range(4)][:3] == [0.0, 0.0, 0.0]


def test_three_workers_keep_the_deployments_ten_a_minute(
    broker: Connection, supervisor: Supervisor, fake_services: FakeServices, db: Db
) -> None:
    task = call_external_rate_limited_api
    db.execute(
        sql.SQL("DELETE FROM {} WHERE bucket = %s").format(sql.Identifier(RATE_BUCKET)),
        (bucket_name(task.name),),
    )
    pool = TOPOLOGY.pool("external-api")
    env = {**pool_worker_env(pool.name), "SWITCHYARD_EXTERNAL_API_URL": fake_services.external_url}
    for instance in range(WORKERS):
        supervisor.start(f"worker-{pool.name}-{instance}", worker_argv(pool, instance), env)
    with Connection(get_settings().broker_url) as conn:
        assert wait_until(
            lambda: consumer_counts(conn, list(pool.queues))["external_api"] == WORKERS, 60
        ), "the three workers did not all consume"
    results = [task.delay({"n": n}) for n in range(CALLS)]
    for result in results:
        result.get(timeout=240)
    assert len(fake_services.hits(PATH)) == CALLS  # each ran once: none lost, none twice
    declared: Any = task  # the task's class carries its declared limit
    limit = SharedRateLimit.parse(declared.shared_rate_limit, declared.rate_limit_burst)
    allowed = round(limit.per_second * 60) + limit.burst  # 10 a minute, plus the burst
    most = fake_services.most_in_window(PATH, 60)
    print(f"{CALLS} calls from {WORKERS} workers; most in any 60 s window: {most}")
    # 13 calls in at most 11 a minute: the calls had to spread over more than one window.
    assert most <= allowed < CALLS
    assert not supervisor.dead()
