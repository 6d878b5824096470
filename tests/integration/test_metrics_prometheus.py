"""Metrics checked by a real Prometheus: a worker pool, the queue exporter and a producer are
scraped every second, alert rules are evaluated every second, and PromQL answers must equal
what was run and what the broker counts."""

from __future__ import annotations

import os
import signal
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from config.settings import Settings
from deadletter import headers
from metrics import definitions as d
from metrics.dashboard import dashboard
from metrics.exposition import serve_metrics
from metrics.promql import cookbook
from metrics.rules import AlertTiming, alert_rules, alert_rules_yaml
from ops.broker import consumer_counts
from ops.broker_users import pool_worker_env
from ops.chaos.proxy import ChaosProxy
from ops.local_metrics import (
    ALERTS_RULE_FILE,
    EXPORTER_JOB,
    WORKER_JOB,
    exporter_command,
    metrics_env,
    setting_env,
)
from ops.stack.processes import children
from ops.stack.prometheus import PrometheusServer, ScrapeTarget
from ops.supervisor import Process, Supervisor
from routing import names
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.entities import broker_entities, dead_letter_exchange, task_exchange
from routing.model import PoolSpec, QueueSpec
from routing.worker_command import worker_argv
from tests.integration.metrics_support import free_port, poll, scrape

PROBES = "tests.tasks.metrics_probes"
PRODUCER_JOB = "producer"
# Every alert fires as soon as its condition holds; windows short enough for a test.
FAST = AlertTiming(
    backlog_window="30s",
    backlog_for="0s",
    dead_letter_for="0s",
    no_consumers_for="0s",
    pool_down_for="0s",
    failure_window="30s",
    failure_for="0s",
    exporter_for="0s",
    broker_for="0s",
)


@dataclass
class Observed:
    prometheus: PrometheusServer
    pool: PoolSpec
    idle_queue: QueueSpec  # declared, consumed by no pool running here
    settings: Settings
    worker: Process
    worker_port: int


def _probe_pool() -> PoolSpec:
    """The pool of the default queue, where the unrouted probe tasks go."""
    assert TOPOLOGY.route_for(f"{PROBES}.succeed") is None
    return TOPOLOGY.pool_of_queue(TOPOLOGY.default_queue)


def _purge_everything(conn: Connection) -> None:
    channel: Any = conn.channel()
    for queue in broker_entities(TOPOLOGY).all_queues:
        queue.bind(channel).purge()
    channel.close()


@pytest.fixture(scope="module")
def observed(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    root: Path = tmp_path_factory.mktemp("observed")
    pool = _probe_pool()
    with Connection(settings.broker_url) as conn:
        declare_topology(conn, TOPOLOGY)
        _purge_everything(conn)
    supervisor = Supervisor(root / "logs")
    prometheus = PrometheusServer(
        root / "prometheus", free_port(), scrape_interval="1s", evaluation_interval="1s"
    )
    try:
        worker_port, exporter_port, producer_port = free_port(), free_port(), free_port()
        name = f"worker-{pool.name}"
        worker_env = {**metrics_env(name, worker_port, root), **pool_worker_env(pool.name)}
        worker = supervisor.start(name, worker_argv(pool), worker_env)
        supervisor.start("exporter", *exporter_command(exporter_port))
        assert serve_metrics("127.0.0.1", producer_port)  # this process sends the tasks
        prometheus.configure(
            [
                ScrapeTarget(WORKER_JOB, f"127.0.0.1:{worker_port}", {"process": pool.name}),
                ScrapeTarget(EXPORTER_JOB, f"127.0.0.1:{exporter_port}"),
                ScrapeTarget(PRODUCER_JOB, f"127.0.0.1:{producer_port}"),
            ],
            {ALERTS_RULE_FILE: alert_rules_yaml(TOPOLOGY, FAST)},
        )
        prometheus.start()
        up = poll(lambda: _values(prometheus, "up", "job"), lambda v: v.get(WORKER_JOB) == 1
                  and v.get(EXPORTER_JOB) == 1 and v.get(PRODUCER_JOB) == 1)  # fmt: skip
        assert up == {WORKER_JOB: 1, EXPORTER_JOB: 1, PRODUCER_JOB: 1}, supervisor.dead()
        with Connection(settings.broker_url) as conn:
            consumed = poll(lambda: consumer_counts(conn, list(pool.queues)),
                            lambda c: min(c.values()) > 0)  # fmt: skip
        assert min(consumed.values()) > 0, "the pool does not consume"
        idle = next(q for q in TOPOLOGY.queues if q.name not in pool.queues)
        yield Observed(prometheus, pool, idle, settings, worker, worker_port)
    finally:
        prometheus.stop()
        supervisor.stop(timeout=30)


def _values(prometheus: PrometheusServer, expr: str, *labels: str) -> dict[Any, float]:
    """The instant vector as {label value(s): value}."""
    result = {}
    for row in prometheus.query(expr):
        key = tuple(row["metric"].get(label, "") for label in labels)
        result[key[0] if len(key) == 1 else key] = float(row["value"][1])
    return result


def _settled(
    prometheus: PrometheusServer, expr: str, want: dict[Any, float], *labels: str
) -> dict[Any, float]:
    """The query's values once they equal `want`, or as they are at the deadline."""
    return poll(lambda: _values(prometheus, expr, *labels), lambda got: got == want)


def test_task_counts_equal_what_was_run_by_task_and_queue(observed: Observed) -> None:
    from config.app import app
    from tests.tasks.metrics_probes import fail, reject, retry_then_succeed, succeed

    revoked_id = str(uuid.uuid4())
    assert app.control.revoke(revoked_id, reply=True, limit=1, timeout=10), "no worker replied"
    results = [succeed.delay(i) for i in range(5)]
    results += [fail.delay("probe failure") for _ in range(3)]
    results += [retry_then_succeed.delay(2) for _ in range(2)]
    results += [reject.delay()]
    succeed.apply_async((0,), task_id=revoked_id)
    for result in results:
        result.get(timeout=60, propagate=False)

    queue = observed.pool.queues[0]
    ok, bad, retry, rej = (f"{PROBES}.{t}" for t in ("succeed", "fail", "retry_then_succeed",
                                                      "reject"))  # fmt: skip
    ran = {ok: 5, bad: 3, retry: 2 + 2 * 2, rej: 1}  # executions: a retry runs again
    expected = {
        d.TASK_SENT.name: {ok: 6, bad: 3, retry: 6, rej: 1},
        d.TASK_RECEIVED.name: ran,
        d.TASK_STARTED.name: ran,
        d.TASK_SUCCEEDED.name: {ok: 5, retry: 2},
        d.TASK_FAILED.name: {bad: 3},
        d.TASK_RETRIED.name: {retry: 4},
        d.TASK_REJECTED.name: {rej: 1},
        d.TASK_REVOKED.name: {ok: 1},
        f"{d.TASK_RUNTIME.name}_count": ran,
        f"{d.TASK_QUEUE_WAIT.name}_count": ran,
    }
    for metric, counts in expected.items():
        want = {(task, queue): float(n) for task, n in counts.items()}
        probes = "|".join(ran)
        expr = f'sum by ({d.TASK}, {d.QUEUE}) ({metric}{{{d.TASK}=~"{probes}"}})'
        assert _settled(observed.prometheus, expr, want, d.TASK, d.QUEUE) == want, metric
    exceptions = _values(
        observed.prometheus, f'sum by ({d.EXCEPTION}) ({d.TASK_FAILED.name}{{{d.TASK}="{bad}"}})',
        d.EXCEPTION,
    )  # fmt: skip
    assert exceptions == {"ValueError": 3.0}
    by_kind = f"sum by ({d.QUEUE}, {d.KIND}) ({d.DEAD_LETTERED_BY_WORKER.name})"
    dead = {(queue, "rejected"): 1.0}
    assert _settled(observed.prometheus, by_kind, dead, d.QUEUE, d.KIND) == dead
    active = _values(observed.prometheus, f"sum({d.WORKER_TASKS_ACTIVE.name})")
    assert list(active.values()) == [0.0]


def _publish(conn: Connection, exchange: Any, routing_key: str, count: int) -> None:
    producer = conn.Producer()
    for i in range(count):
        producer.publish({"probe": i}, exchange=exchange, routing_key=routing_key,
                         declare=[exchange], serializer="json")  # fmt: skip


def test_queue_depth_in_prometheus_equals_the_brokers_count(observed: Observed) -> None:
    queue = observed.idle_queue.name
    with Connection(observed.settings.broker_url) as conn:
        try:
            _publish(conn, task_exchange(), queue, 7)
            channel: Any = conn.channel()
            broker = poll(lambda: channel.queue_declare(queue=queue, passive=True)[1],
                          lambda n: n == 7)  # fmt: skip
            channel.close()
            assert broker == 7
            expr = f'{d.QUEUE_READY.name}{{{d.QUEUE}="{queue}"}}'
            want = {queue: float(broker)}
            assert _settled(observed.prometheus, expr, want, d.QUEUE) == want
        finally:
            _purge_everything(conn)


def test_a_message_in_a_dead_letter_queue_fires_its_alert(observed: Observed) -> None:
    queue = observed.idle_queue.name
    alert = "SwitchyardDeadLetterQueueNotEmpty"
    expr = f'ALERTS{{alertname="{alert}",{d.QUEUE}="{queue}",alertstate="firing"}}'
    with Connection(observed.settings.broker_url) as conn:
        try:
            assert observed.prometheus.query(expr) == []
            _publish(conn, dead_letter_exchange(), names.dlq_name(queue), 1)
            firing = poll(lambda: observed.prometheus.query(expr), bool)
            assert len(firing) == 1
            assert firing[0]["metric"]["pool"] == TOPOLOGY.pool_of_queue(queue).name
        finally:
            _purge_everything(conn)


def test_every_generated_query_is_valid_promql(observed: Observed) -> None:
    """Prometheus parses every query of the dashboard, the rules and the docs cookbook."""
    panels = dashboard(TOPOLOGY)["panels"]
    queries = [t["expr"] for p in panels for t in p.get("targets", [])]
    queries += [r["expr"] for g in alert_rules(TOPOLOGY)["groups"] for r in g["rules"]]
    queries += [query for _title, query in cookbook()]
    for query in queries:
        observed.prometheus.query(query)  # raises StackError on HTTP 400 (bad PromQL)


def test_exporter_reports_an_unreachable_broker_and_recovers(
    observed: Observed, tmp_path: Path
) -> None:
    """The exporter reaches the management API through a proxy; cutting the proxy is the
    broker going away for it, without stopping the broker the other tests use."""
    api = urllib.parse.urlsplit(observed.settings.broker_api_url)
    assert api.hostname is not None
    assert api.port is not None
    proxy = ChaosProxy((api.hostname, api.port)).start()
    proxied = api._replace(netloc=api.netloc.rsplit(":", 1)[0] + f":{proxy.port}").geturl()
    port = free_port()
    argv, env = exporter_command(port)
    supervisor = Supervisor(tmp_path / "logs")
    supervisor.start("exporter", argv, {**env, setting_env("broker_api_url"): proxied})
    up, errors = f"{d.BROKER_UP.name}{{}}", f"{d.EXPORTER_SCRAPE_ERRORS.name}{{}}"
    ready = f'{d.QUEUE_READY.name}{{{d.QUEUE}="{observed.idle_queue.name}"}}'
    try:
        reachable = poll(lambda: scrape(port), lambda s: s.get(up) == 1)
        assert reachable[up] == 1
        assert reachable[errors] == 0
        assert ready in reachable

        proxy.stop()
        cut = poll(lambda: scrape(port), lambda s: s.get(up) == 0)
        assert cut[up] == 0
        assert cut[errors] >= 1
        assert ready not in cut, "queue series must not be reported stale"
        assert not supervisor.dead(), "the exporter must keep serving"

        proxy.start()
        back = poll(lambda: scrape(port), lambda s: s.get(up) == 1)
        assert back[up] == 1
        assert ready in back
        assert back[errors] >= cut[errors]
    finally:
        supervisor.stop(timeout=10)
        proxy.stop()


def _active(port: int) -> float:
    return sum(v for k, v in scrape(port).items() if k.startswith(d.WORKER_TASKS_ACTIVE.name))


def test_a_killed_child_is_not_counted_as_running_a_task(observed: Observed) -> None:
    """A child killed by SIGKILL cannot clean up after itself; the pool's metrics endpoint
    drops its live gauges, so the task it ran is no longer counted as running. (The inline
    pool forks a child for a message that comes back after a lost worker: sent so here.)"""
    from tests.tasks.metrics_probes import hold

    assert observed.pool.kind == "inline", "the probes' pool is the inline one"
    result = hold.apply_async((1.0,), headers={headers.WORKER_LOSSES: "1"})
    assert poll(lambda: _active(observed.worker_port), lambda n: n == 1) == 1
    pool_processes = children(observed.worker.popen.pid)
    assert pool_processes, "a suspect message runs in a child"
    for child in pool_processes:
        os.kill(child, signal.SIGKILL)
    assert result.get(timeout=60) == 1.0  # requeued with the loss counted, run by a new child
    assert poll(lambda: _active(observed.worker_port), lambda n: n == 0) == 0
