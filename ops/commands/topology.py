"""`switchyard topology show | declare | diff | wait | prune`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from config.settings import get_settings
from metrics.exporter import vhost_of
from ops.broker import connection
from ops.broker_users import grant_pool_users, grant_producer_user
from ops.live_broker import expected_pool_users, live_broker, management_api
from ops.prune import PrunePlan, PruneRefused, count_now, prune
from routing import names
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.diff import diff, leftovers
from routing.entities import broker_entities
from routing.management_api import ManagementAPI


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
        "diff",
        help="compare the live broker with the declaration, leftovers included; "
        "exit 1 on any difference",
    ).set_defaults(handler=_diff)
    wait = actions.add_parser(
        "wait",
        help="wait until a pool's queues and the result tables exist; exit 1 at the timeout",
    )
    wait.add_argument("--pool", required=True, help="the pool whose queues to wait for")
    wait.add_argument("--timeout", type=float, default=600.0, metavar="S")
    wait.add_argument("--interval", type=float, default=2.0, metavar="S")
    wait.set_defaults(handler=_wait)
    prune = actions.add_parser(
        "prune",
        help="remove queues, exchanges, bindings and pool users the declaration no longer has",
    )
    prune.add_argument("--yes", action="store_true", help="do not ask before removing")
    prune.add_argument(
        "--force", action="store_true", help="delete queues that still hold messages, with them"
    )
    prune.add_argument(
        "--move-to", metavar="QUEUE", help="first move each leftover queue's messages to QUEUE"
    )
    prune.set_defaults(handler=_prune)


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
    if settings.api_broker_url:
        settings.require("broker_api_url")
        api = ManagementAPI(settings.broker_api_url)
        print(
            grant_producer_user(
                api, vhost_of(settings.broker_url), TOPOLOGY, settings.api_broker_url
            )
        )
    return 0


def _diff(_: argparse.Namespace) -> int:
    settings = get_settings()
    pool_users = expected_pool_users(TOPOLOGY, settings)
    problems = diff(broker_entities(TOPOLOGY), live_broker(settings), pool_users)
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


def _prune(args: argparse.Namespace) -> int:
    settings = get_settings()
    entities = broker_entities(TOPOLOGY)
    found = leftovers(entities, live_broker(settings), expected_pool_users(TOPOLOGY, settings))
    if not found:
        print("nothing to prune: the broker has nothing the declaration does not")
        return 0
    plan = PrunePlan(count_now(found, settings.broker_url), force=args.force, move_to=args.move_to)
    plan.check({q.name for q in entities.all_queues})
    print("prune will:")
    for line in plan.lines():
        print(f"  {line}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise PruneRefused("not a terminal to confirm on: add --yes to prune")
        if input("go ahead? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing removed")
            return 1
    for line in prune(plan, settings.broker_url, management_api(settings)):
        print(line)
    return 0
