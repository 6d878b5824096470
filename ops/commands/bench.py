"""`switchyard bench results`: measure the result backends against the running stack."""

from __future__ import annotations

import argparse
import json
import sys

WORKLOADS = ("throughput", "round-trip", "chord")  # keys of ops.bench.results_suite's workloads


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="benchmarks against the running stack")
    suites = parser.add_subparsers(dest="suite", required=True, metavar="SUITE")
    results = suites.add_parser(
        "results",
        help="Celery's stock database result backend against Switchyard's, same workers",
    )
    results.add_argument("--repeat", type=_positive, default=3, help="runs of each workload")
    results.add_argument("--tasks", type=_positive, default=10_000, help="throughput tasks")
    results.add_argument("--round-trips", type=_positive, default=200, help="serial round trips")
    results.add_argument("--chord-size", type=_positive, default=1_000, help="chord header tasks")
    results.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        default=[],
        help="run only this workload (repeatable; default: all)",
    )
    results.add_argument(
        "--json", action="store_true", help="print the figures as JSON (the table goes to stderr)"
    )
    results.set_defaults(handler=_results)


def _results(args: argparse.Namespace) -> int:
    from ops.bench.report import as_dict, table
    from ops.bench.results_suite import Sizes, results_suite
    from ops.bench.runner import run_suite
    from ops.bench.workers import BenchError

    suite = results_suite(Sizes(args.tasks, args.round_trips, args.chord_size)).only(args.workload)
    try:
        outcome = run_suite(suite, args.repeat, _progress)
    except BenchError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    if args.json:  # JSON alone on stdout; the table still goes to the terminal
        print("\n".join(table(outcome)), file=sys.stderr)
        print(json.dumps(as_dict(outcome), indent=2))
    else:
        print("\n".join(table(outcome)))
    return 0


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
