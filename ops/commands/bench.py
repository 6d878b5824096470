"""`switchyard bench`: stock Celery, Dramatiq and Switchyard on the running stack.

`switchyard bench` compares the whole path (publish, apply_async, drain of a backlog,
throughput with and without results, round trips, memory, the broker's raw rates and the
floors); `switchyard bench scaling` measures Switchyard's cost per task as workers and task
bodies grow; `switchyard bench results` compares only the
result backends, with the same workers; `switchyard bench api` drives the producer API over
HTTP against a plain FastAPI handler that calls `.delay()`; `switchyard bench probe`
measures what one exec probe of a worker pod costs (no stack needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.bench.model import Suite


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="benchmarks against the running stack (stock Celery vs Switchyard by default)",
    )
    _common(parser)
    parser.add_argument("--round-trips", type=_positive, default=200, help="serial round trips")
    parser.add_argument(
        "--calls", type=_positive, default=1_000, help="apply_async calls and floor publishes"
    )
    parser.add_argument(
        "--queue-types",
        action="store_true",
        help="also run the tuned Dramatiq on a quorum queue (the queue type's share)",
    )
    parser.set_defaults(handler=_compare)
    suites = parser.add_subparsers(dest="suite", metavar="SUITE")
    results = suites.add_parser(
        "results",
        help="Celery's stock database result backend against Switchyard's, same workers",
    )
    _common(results)
    results.add_argument("--round-trips", type=_positive, default=200, help="serial round trips")
    results.add_argument("--chord-size", type=_positive, default=1_000, help="chord header tasks")
    results.set_defaults(handler=_results)
    scaling = suites.add_parser(
        "scaling",
        help="Switchyard's drain rate and CPU per task for 1, 2, 4 workers and larger bodies",
    )
    scaling.add_argument("--repeat", type=_positive, default=3, help="runs of each row")
    scaling.add_argument(
        "--tasks", type=_positive, default=2_000, help="tasks per drain (fewer for large bodies)"
    )
    scaling.add_argument("--json", action="store_true", help="print the medians as JSON too")
    scaling.set_defaults(handler=_scaling)
    api = suites.add_parser(
        "api",
        help="the producer API against a plain FastAPI handler calling .delay(), over HTTP",
    )
    api.add_argument(
        "--requests", type=_positive, default=2_000, help="requests, as fast as answered"
    )
    api.add_argument("--concurrency", type=_positive, default=32, help="requests in flight")
    api.add_argument("--rate", type=_positive, default=500, help="requests/s of the latency run")
    api.add_argument("--rate-requests", type=_positive, default=2_500, help="requests at --rate")
    api.add_argument(
        "--port", type=_positive, default=0, help="first loopback port (default: the stack's)"
    )
    api.add_argument("--json", action="store_true", help="print the figures as JSON too")
    api.set_defaults(handler=_api)
    probe = suites.add_parser(
        "probe", help="CPU and peak memory per call of a worker pod's exec probe (no stack)"
    )
    probe.add_argument("--calls", type=_positive, default=20, help="probe runs")
    probe.add_argument(
        "probe_argv",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND",
        help="the command to measure (default: switchyard-health --ready, as the chart runs it)",
    )
    probe.set_defaults(handler=_probe)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=_positive, default=3, help="runs of each workload")
    parser.add_argument("--tasks", type=_positive, default=10_000, help="tasks per throughput run")
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON (the table goes to stderr)"
    )


def _compare(args: argparse.Namespace) -> int:
    from ops.bench.compare_suite import Sizes, compare_suite

    sizes = Sizes(args.tasks, args.round_trips, args.calls, args.queue_types)
    return _run(compare_suite(sizes), args)


def _results(args: argparse.Namespace) -> int:
    from ops.bench.results_suite import Sizes, results_suite

    return _run(results_suite(Sizes(args.tasks, args.round_trips, args.chord_size)), args)


def _scaling(args: argparse.Namespace) -> int:
    from ops.bench.report import machine
    from ops.bench.scaling import as_dict, rows, run_scaling, table
    from ops.bench.workers import BenchError
    from ops.progress import ProgressDisplay, choose_mode
    from ops.stack.manager import Stack

    broker_pid = Stack().rabbit.pid()
    steps = len(rows()) * args.repeat
    try:
        with ProgressDisplay(steps, choose_mode(args.json, sys.stderr)) as display:
            samples = run_scaling(args.tasks, args.repeat, broker_pid, display)
    except BenchError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    print("\n".join(table(samples)))
    if broker_pid is None:
        print("broker CPU not measured: the broker is not the local stack's")
    print(f"median of {args.repeat} runs; machine: {json.dumps(machine())}")
    if args.json:
        print(json.dumps(as_dict(samples), indent=2))
    return 0


def _api(args: argparse.Namespace) -> int:
    from ops.bench.api_suite import Sizes, run_api_bench, table
    from ops.bench.report import machine
    from ops.stack.layout import Ports

    sizes = Sizes(args.requests, args.concurrency, float(args.rate), args.rate_requests)
    port = args.port or Ports.from_environment().api + 100
    figures = run_api_bench(sizes, port, _progress)
    print("\n".join(table(figures, sizes)))
    print(f"machine: {json.dumps(machine())}")
    if args.json:
        print(json.dumps({f.name: f.as_dict() for f in figures}, indent=2))
    return 0


def _probe(args: argparse.Namespace) -> int:
    from ops.bench.probe_cost import default_probe_argv, measure

    argv = [a for a in args.probe_argv if a != "--"] or default_probe_argv()
    cost = measure(argv, args.calls)
    print("\n".join(cost.lines()))
    return 0 if set(cost.exit_codes) == {0} else 1


def _run(suite: Suite, args: argparse.Namespace) -> int:
    from ops.bench.report import as_dict, table
    from ops.bench.runner import run_suite, steps
    from ops.bench.workers import BenchError
    from ops.progress import ProgressDisplay, choose_mode

    mode = choose_mode(args.json, sys.stderr)
    try:
        with ProgressDisplay(steps(suite, args.repeat), mode) as display:
            outcome = run_suite(suite, args.repeat, display)
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
