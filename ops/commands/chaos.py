"""`switchyard chaos`: the fault suite against the local stack, with the zero-loss table."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path

from config.settings import get_settings, stack_dir
from ops.broker import connection
from ops.chaos import ledger
from ops.chaos.faults import CLUSTER_NODES, DEFAULT_NODE_OUTAGE_S, SCENARIOS, Scenario
from ops.chaos.partition import HOST_SCENARIOS, group_env, on_host_cluster
from ops.chaos.suite import ChaosSuite, Outcome, print_table
from ops.progress import ProgressDisplay, choose_mode
from ops.stack.manager import Stack
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("chaos", help="inject faults into running pools and count every task")
    parser.add_argument("--tasks", type=int, default=4000, help="tasks per scenario")
    parser.add_argument("--faults", type=int, default=5, help="faults per scenario")
    parser.add_argument(
        "--publish-seconds",
        type=float,
        default=40.0,
        help="spread each scenario's publishing over this long",
    )
    parser.add_argument("--groups", type=int, default=2, help="worker groups of the pool")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.name for s in (*SCENARIOS, *HOST_SCENARIOS)],
        help="run only these (repeatable); default: all; broker-partition runs on a "
        "three-node cluster on namespaced hosts it makes (root, `ip netns`)",
    )
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=DEFAULT_NODE_OUTAGE_S,
        help="how long broker-minority-loss keeps a node stopped",
    )
    parser.add_argument(
        "--json", type=Path, metavar="FILE", help="also write every scenario's outcome here"
    )
    parser.add_argument(
        "--no-guard",
        action="store_true",
        help="apply effects without claiming their key: shows re-runs counted as applied twice",
    )
    parser.set_defaults(handler=_chaos)


def _chaos(args: argparse.Namespace) -> int:
    stack = Stack()
    settings = get_settings()
    settings.require("broker_url", "database_url", "migration_database_url")
    ledger.migrate(settings.migration_database_url)
    with connection() as conn:
        declare_topology(conn, TOPOLOGY)
    suite = ChaosSuite(
        stack,
        settings,
        stack_dir() / "logs" / "chaos",
        groups=args.groups,
        guard=not args.no_guard,
        node_outage_s=args.outage_seconds,
    )
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    outcomes = []
    mode = choose_mode(False, sys.stderr)
    with ProgressDisplay(len(chosen) * args.tasks, mode) as display:
        for scenario in chosen:
            if scenario.needs_local_stack and (stack.external_broker or stack.external_database):
                display(f"skipping {scenario.name}: needs the local stack")
                display.advance(args.tasks)
                continue
            if scenario.needs_cluster and (
                stack.external_broker or len(stack.broker.nodes) < CLUSTER_NODES
            ):
                display(
                    f"skipping {scenario.name}: needs a local {CLUSTER_NODES}-node broker "
                    f"(`switchyard stack up --broker-nodes {CLUSTER_NODES}`)"
                )
                display.advance(args.tasks)
                continue
            display.step(f"{scenario.name}: {args.tasks} tasks, {args.faults} faults")
            display.watch(lambda: suite.current.published if suite.current else 0, "tasks")
            outcomes.append(suite.run(scenario, args.tasks, args.faults, args.publish_seconds))
            display.unwatch()
            display.advance(args.tasks)
            print_table(outcomes[-1:], sys.stderr)
    for scenario in [s for s in HOST_SCENARIOS if args.scenario and s.name in args.scenario]:
        print(f"... {scenario.name}: namespaced hosts and a three-node cluster", file=sys.stderr)
        outcomes.append(_on_hosts(stack, suite, scenario, args))
        print_table(outcomes[-1:], sys.stderr)
    print()
    print_table(outcomes)
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    total_faults = sum(o.faults for o in outcomes)
    total_tasks = sum(o.confirmed for o in outcomes)
    lost = sum(o.lost for o in outcomes)
    twice = sum(o.applied_twice for o in outcomes)
    reruns = sum(o.reruns for o in outcomes)
    bound = sum(o.rerun_bound for o in outcomes)
    print(
        f"\n{total_faults} faults, {total_tasks} confirmed tasks: lost {lost}, "
        f"applied twice {twice}, re-runs {reruns} (bound {bound}), "
        f"groups stuck {sum(o.stuck for o in outcomes)}, "
        f"guard {'on' if suite.guard else 'off'}"
    )
    return 0 if all(o.passed for o in outcomes) else 1


def _on_hosts(
    stack: Stack, suite: ChaosSuite, scenario: Scenario, args: argparse.Namespace
) -> Outcome:
    """Run `scenario` against the cluster on namespaced hosts, made and removed here."""
    with on_host_cluster(stack) as (cluster, settings):
        with connection() as conn:
            declare_topology(conn, TOPOLOGY)
        on_cluster = ChaosSuite(
            stack,
            settings,
            suite.log_dir,
            groups=suite.groups,
            guard=suite.guard,
            group_env=partial(group_env, cluster),
        )
        return on_cluster.run(scenario, args.tasks, args.faults, args.publish_seconds)
