"""`switchyard topology show | declare | diff`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from config.settings import get_settings
from metrics.exporter import vhost_of
from ops.broker import connection
from ops.broker_users import grant_pool_users
from ops.management_api import ManagementAPI, quote
from routing import names
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.diff import LiveBroker, diff
from routing.entities import broker_entities


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("topology", help="the declared exchanges, queues and pools")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="queues, routes and pools as declared")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=_show)
    actions.add_parser(
        "declare", help="declare everything on the broker (idempotent)"
    ).set_defaults(handler=_declare)
    actions.add_parser(
        "diff", help="compare the live broker with the declaration; exit 1 on any difference"
    ).set_defaults(handler=_diff)
    wait = actions.add_parser(
        "wait",
        help="wait until a pool's queues and the result tables exist; exit 1 at the timeout",
    )
    wait.add_argument("--pool", required=True, help="the pool whose queues to wait for")
    wait.add_argument("--timeout", type=float, default=600.0, metavar="S")
    wait.add_argument("--interval", type=float, default=2.0, metavar="S")
    wait.set_defaults(handler=_wait)


def describe() -> dict[str, Any]:
    """The declaration with everything derived from it, for people and tools."""
    entities = broker_entities(TOPOLOGY)
    queues = []
    for spec, queue in zip(TOPOLOGY.queues, entities.work_queues, strict=True):
        queues.append(
            {
                "name": spec.name,
                "type": spec.type,
                "max_priority": spec.max_priority,
                "dead_letter_queue": names.dlq_name(spec.name),
                "arguments": queue.queue_arguments,
                "pool": TOPOLOGY.pool_of_queue(spec.name).name,
                "routes": [r.pattern for r in TOPOLOGY.routes if r.queue == spec.name],
                "description": spec.description,
            }
        )
    pools = [
        {
            "name": p.name,
            "queues": list(p.queues),
            "kind": p.kind,
            "concurrency": p.concurrency,
            "prefetch_multiplier": p.prefetch_multiplier,
            "soft_time_limit_s": p.soft_time_limit_s,
            "time_limit_s": p.time_limit_s,
            "replicas": p.replicas,
            "autoscaling": [p.min_replicas, p.max_replicas],
            "broker_user": names.pool_broker_user(p.name),
            "sends_to": list(p.sends_to),
        }
        for p in TOPOLOGY.pools
    ]
    routes = [
        {"pattern": r.pattern, "queue": r.queue, "priority": r.priority} for r in TOPOLOGY.routes
    ]
    exchanges = {
        "tasks": names.TASK_EXCHANGE,
        "dead_letter": names.DEAD_LETTER_EXCHANGE,
        "unroutable": names.UNROUTABLE_EXCHANGE,
        "unroutable_queue": names.UNROUTABLE_QUEUE,
    }
    return {
        "exchanges": exchanges,
        "queues": queues,
        "routes": routes,
        "pools": pools,
        "default_queue": TOPOLOGY.default_queue,
    }


def _show(args: argparse.Namespace) -> int:
    info = describe()
    if args.format == "json":
        print(json.dumps(info, indent=2))
        return 0
    ex = info["exchanges"]
    print(
        f"exchanges: tasks {ex['tasks']} (topic, alternate {ex['unroutable']} -> "
        f"queue {ex['unroutable_queue']}), dead-letter {ex['dead_letter']}\n"
    )
    print(f"{'QUEUE':<14}{'TYPE':<9}{'PRIO':<6}{'DEAD-LETTER':<18}{'POOL':<14}ROUTES")
    for q in info["queues"]:
        print(
            f"{q['name']:<14}{q['type']:<9}{q['max_priority'] or '-'!s:<6}"
            f"{q['dead_letter_queue']:<18}{q['pool']:<14}{', '.join(q['routes'])}"
        )
    print(
        f"\n{'POOL':<14}{'QUEUES':<16}{'KIND':<9}{'CONC':<6}{'PREFETCH':<10}"
        f"{'SOFT/HARD S':<13}{'REPLICAS':<10}AUTOSCALE"
    )
    for p in info["pools"]:
        low, high = p["autoscaling"]
        limits = f"{p['soft_time_limit_s']}/{p['time_limit_s']}"
        print(
            f"{p['name']:<14}{','.join(p['queues']):<16}{p['kind']:<9}"
            f"{p['concurrency']:<6}{p['prefetch_multiplier']:<10}"
            f"{limits:<13}{p['replicas']:<10}{low}-{high}"
        )
    return 0


def _declare(_: argparse.Namespace) -> int:
    with connection() as conn:
        declared = declare_topology(conn, TOPOLOGY)
    print(f"declared {len(declared)} queues: {', '.join(declared)}")
    settings = get_settings()
    if settings.pool_broker_urls:
        settings.require("broker_api_url")
        api = ManagementAPI(settings.broker_api_url)
        vhost = vhost_of(settings.broker_url)
        for line in grant_pool_users(api, vhost, TOPOLOGY, settings.pool_broker_urls):
            print(line)
    return 0


def live_broker() -> LiveBroker:
    """Read queues, exchanges and bindings of the app's vhost from the management API."""
    settings = get_settings()
    settings.require("broker_url", "broker_api_url")
    vhost = vhost_of(settings.broker_url)
    api = ManagementAPI(settings.broker_api_url)
    return LiveBroker(
        queues=api.get(f"queues/{quote(vhost)}"),
        exchanges=api.get(f"exchanges/{quote(vhost)}"),
        bindings=api.get(f"bindings/{quote(vhost)}"),
    )


def _diff(_: argparse.Namespace) -> int:
    problems = diff(broker_entities(TOPOLOGY), live_broker())
    for line in problems:
        print(line)
    if problems:
        print(f"{len(problems)} difference(s) between the broker and the declaration")
        return 1
    print("the broker matches the declaration")
    return 0


def _wait(args: argparse.Namespace) -> int:
    from ops.readiness import missing_queues, missing_tables, wait_ready

    pool = TOPOLOGY.pool(args.pool)
    settings = get_settings()
    settings.require("broker_url", "database_url")
    broker_url = settings.pool_broker_url or settings.broker_url
    missing = wait_ready(
        [
            lambda: missing_queues(broker_url, pool.queues),
            lambda: missing_tables(settings.database_url),
        ],
        args.timeout,
        args.interval,
    )
    if missing:
        print(
            f"pool {pool.name}: still missing after {args.timeout:.0f}s: {', '.join(missing)}"
            " (is the topology Job running? `kubectl logs job/...-topology-N`)",
            file=sys.stderr,
        )
        return 1
    print(f"pool {pool.name}: queues and result tables exist")
    return 0
