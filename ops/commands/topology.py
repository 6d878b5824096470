"""`switchyard topology declare`: declare the topology on the broker (idempotent)."""

from __future__ import annotations

import argparse

from ops.broker import connection
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("topology", help="the declared exchanges, queues and pools")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "declare", help="declare everything on the broker (idempotent)"
    ).set_defaults(handler=_declare)


def _declare(_: argparse.Namespace) -> int:
    with connection() as conn:
        declared = declare_topology(conn, TOPOLOGY)
    print(f"declared {len(declared)} queues: {', '.join(declared)}")
    return 0
