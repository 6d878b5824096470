"""`switchyard chart values`: regenerate the chart's pools from the declaration."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops.chart_topology import TOPOLOGY_FILE, default_chart_dir, is_current, write
from routing.declaration import TOPOLOGY


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("chart", help="the Helm chart's generated files")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    values = actions.add_parser(
        "values", help=f"write {TOPOLOGY_FILE} (pools, queues, command lines) into the chart"
    )
    values.add_argument(
        "--chart", type=Path, default=None, help="chart directory (default: helm/switchyard)"
    )
    values.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when the file is stale"
    )
    values.set_defaults(handler=_values)


def _values(args: argparse.Namespace) -> int:
    chart_dir: Path = args.chart or default_chart_dir()
    if args.check:
        if is_current(TOPOLOGY, chart_dir):
            print(f"{chart_dir / TOPOLOGY_FILE} is current")
            return 0
        print(
            f"{chart_dir / TOPOLOGY_FILE} differs from routing/declaration.py: "
            "run `switchyard chart values`",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {write(TOPOLOGY, chart_dir)}")
    return 0
