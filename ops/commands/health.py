"""`switchyard health`: the worker's exec probe through the full CLI.

The pods run the same check as `switchyard-health` (`ops.probe`), which imports the
standard library only; this command is kept for operators who type it.
"""

from __future__ import annotations

import argparse

from ops import probe


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "health", help="exit 0 when this container's worker is live (and ready), else 1"
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=probe.DEFAULT_MAX_AGE_S,
        metavar="S",
        help=f"oldest acceptable liveness file, in seconds (default {probe.DEFAULT_MAX_AGE_S:.0f})",
    )
    parser.add_argument(
        "--ready", action="store_true", help="also require the worker to be consuming"
    )
    parser.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    return probe.check(args.max_age, ready=args.ready)
