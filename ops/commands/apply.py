"""`switchyard apply [--check] [--files-only]`: one command after editing the declaration."""

from __future__ import annotations

import argparse
import sys

from config.settings import get_settings, project_root
from ops.apply import apply_broker, broker_drift, stale_files, write_files
from ops.chart_topology import default_chart_dir
from routing.declaration import TOPOLOGY


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "apply",
        help="after editing routing/declaration.py: chart values, alert rules, dashboard, "
        "broker declarations and pool users, all brought up to date",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; print every difference and exit 1 when there is one (for CI)",
    )
    parser.add_argument(
        "--files-only",
        action="store_true",
        help="only the generated files, no broker (where no broker is configured)",
    )
    parser.set_defaults(handler=_apply)


def _apply(args: argparse.Namespace) -> int:
    root, chart_dir = project_root(), default_chart_dir()
    if args.check:
        drift = stale_files(TOPOLOGY, root, chart_dir)
        if not args.files_only:
            drift += broker_drift(TOPOLOGY, get_settings())
        for line in drift:
            print(line)
        if drift:
            print(f"{len(drift)} difference(s): run `switchyard apply`", file=sys.stderr)
            return 1
        print("everything derived from the declaration is current")
        return 0
    for line in write_files(TOPOLOGY, root, chart_dir):
        print(line)
    if not args.files_only:
        for line in apply_broker(TOPOLOGY):
            print(line)
    return 0
