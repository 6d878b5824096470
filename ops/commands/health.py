"""`switchyard health`: the exec probe of a worker pod; reads files, never the broker."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import get_settings
from ops.health import HealthFiles

DEFAULT_MAX_AGE_S = 120.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "health", help="exit 0 when this container's worker is live (and ready), else 1"
    )
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE_S,
        metavar="S",
        help=f"oldest acceptable liveness file, in seconds (default {DEFAULT_MAX_AGE_S:.0f})",
    )
    parser.add_argument(
        "--ready", action="store_true", help="also require the worker to be consuming"
    )
    parser.set_defaults(handler=_health)


def _health(args: argparse.Namespace) -> int:
    files = HealthFiles(Path(get_settings().health_dir))
    problem = files.problem(args.max_age, need_ready=args.ready)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("ready" if args.ready else "live")
    return 0
