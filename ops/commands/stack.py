"""`switchyard stack up | install | down | status`."""

from __future__ import annotations

import argparse

from config.settings import MAX_BROKER_NODES
from ops.stack.accounts import StackError
from ops.stack.manager import Stack
from ops.stack.packages import ensure_services


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stack", help="start, stop or inspect the local RabbitMQ and PostgreSQL"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start and provision the services (a no-op when running)")
    up.add_argument(
        "--broker-nodes",
        type=int,
        choices=range(1, MAX_BROKER_NODES + 1),
        metavar="N",
        help="RabbitMQ nodes to run, clustered when more than one (default: "
        "SWITCHYARD_BROKER_NODES, else what the stack last ran, else 1)",
    )
    up.set_defaults(handler=_up)
    actions.add_parser(
        "install", help="install the missing service packages (apt-get as root, else the sudo line)"
    ).set_defaults(handler=_install)
    actions.add_parser("down", help="stop the processes `up` started; data is kept").set_defaults(
        handler=_down
    )
    actions.add_parser("status", help="what runs, where, and whether it answers").set_defaults(
        handler=_status
    )


def _up(args: argparse.Namespace) -> int:
    for line in Stack(broker_nodes=args.broker_nodes).up():
        print(line)
    return 0


def _install(_: argparse.Namespace) -> int:
    installed = ensure_services()
    print(f"installed {', '.join(installed)}" if installed else "service packages present")
    return 0


def _down(_: argparse.Namespace) -> int:
    for line in Stack().down():
        print(line)
    return 0


def _status(_: argparse.Namespace) -> int:
    stack = Stack()
    rows = stack.status()
    print(f"{'SERVICE':<12}{'MODE':<10}{'PID':<9}{'ANSWERS':<9}ADDRESS")
    for row in rows:
        pid = str(row.pid) if row.pid else "-"
        print(
            f"{row.name:<12}{row.mode:<10}{pid:<9}{'yes' if row.answers else 'no':<9}{row.address}"
        )
    if not stack.external_broker and len(stack.broker.nodes) > 1:
        _cluster_status(stack)
    return 0 if all(r.answers for r in rows) else 3


def _cluster_status(stack: Stack) -> None:
    """Each node as the cluster sees it, then where each quorum queue's replicas are."""
    print(f"\n{'NODE':<28}{'UP':<5}{'CLUSTER':<14}PARTITIONED FROM")
    for node in stack.broker.node_states():
        state = "running" if node.running else "not running"
        if node.partitioned_from:
            state = "partitioned"
        print(
            f"{node.nodename:<28}{'yes' if node.pid else 'no':<5}{state:<14}"
            f"{', '.join(node.partitioned_from) or '-'}"
        )
    try:
        queues = stack.broker.queue_replicas()
    except StackError as exc:
        print(f"\nqueues: {exc}")
        return
    print(f"\n{'QUEUE':<34}{'TYPE':<9}{'LEADER':<24}MEMBERS (online)")
    for q in sorted(queues, key=lambda q: q.name):
        members = ", ".join(
            m.split("@")[0] + ("" if m in q.online else " (down)") for m in q.members
        )
        if q.type != "quorum":
            members = "- (one node only)"
        print(f"{q.name:<34}{q.type:<9}{q.leader.split('@')[0]:<24}{members}")
