"""`switchyard stack up | install | down | status`."""

from __future__ import annotations

import argparse

from ops.stack.manager import Stack
from ops.stack.packages import ensure_services


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stack", help="start, stop or inspect the local RabbitMQ and PostgreSQL"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "up", help="start and provision the services (a no-op when running)"
    ).set_defaults(handler=_up)
    actions.add_parser(
        "install", help="install the missing service packages (apt-get as root, else the sudo line)"
    ).set_defaults(handler=_install)
    actions.add_parser("down", help="stop the processes `up` started; data is kept").set_defaults(
        handler=_down
    )
    actions.add_parser("status", help="what runs, where, and whether it answers").set_defaults(
        handler=_status
    )


def _up(_: argparse.Namespace) -> int:
    for line in Stack().up():
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
    rows = Stack().status()
    print(f"{'SERVICE':<12}{'MODE':<10}{'PID':<9}{'ANSWERS':<9}ADDRESS")
    for row in rows:
        pid = str(row.pid) if row.pid else "-"
        print(
            f"{row.name:<12}{row.mode:<10}{pid:<9}{'yes' if row.answers else 'no':<9}{row.address}"
        )
    return 0 if all(r.answers for r in rows) else 3
