"""The `switchyard` command: one entry point, one module per command group."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from config.settings import SettingsError
from ops.broker_users import PoolUserError
from ops.commands import (
    api,
    apply,
    bench,
    chaos,
    chart,
    db,
    dlq,
    exporter,
    health,
    metrics,
    run,
    send,
    stack,
    topology,
)
from ops.prune import PruneRefused
from ops.stack.accounts import StackError
from routing.management_api import ManagementAPIError
from routing.model import TopologyError
from routing.publish_checks import PublishRefused

_GROUPS = (
    stack,
    db,
    apply,
    topology,
    run,
    api,
    send,
    dlq,
    bench,
    chaos,
    exporter,
    metrics,
    chart,
    health,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchyard",
        description="Run and operate a Celery deployment on RabbitMQ and PostgreSQL.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except (
        StackError,
        SettingsError,
        ManagementAPIError,
        TopologyError,
        PoolUserError,
        PruneRefused,
        PublishRefused,
    ) as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away, as `| head` does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
