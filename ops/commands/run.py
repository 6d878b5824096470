"""`switchyard run`: every pool of the declaration (plus beat) on this machine.

`switchyard run --pool NAME` replaces itself with that pool's worker, exactly as a pod runs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys

import httpx

from config.settings import SettingsError, get_settings, stack_dir
from ops.broker import connection, consumer_counts
from ops.broker_users import pool_worker_env
from ops.commands.api import api_argv
from ops.demo import LocalApi, prepare_services, run_demo
from ops.fake_services import FakeServices
from ops.local_metrics import (
    LocalWorker,
    exporter_command,
    flower_command,
    local_workers,
    metrics_env,
    scrape_targets,
    setting_env,
    start_prometheus,
)
from ops.stack.layout import HOST, StackLayout
from ops.stack.manager import BROKER_ENV
from ops.stack.processes import wait_until
from ops.stack.prometheus import PrometheusServer
from ops.supervisor import Supervisor, local_argv
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.worker_command import beat_argv, worker_argv

READY_TIMEOUT_S = 90


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("run", help="run the worker pools (and beat) of the declaration")
    parser.add_argument("--pool", help="run only this pool, in the foreground, as a pod does")
    parser.add_argument(
        "--replicas",
        type=int,
        help="with --pool: run N workers of it, each with its own node name "
        "(<pool>@<host>-<n>) and metrics port, as N pods would",
    )
    parser.add_argument("--no-beat", action="store_true", help="do not start beat")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="send the demo workload once the pools consume, and show results",
    )
    parser.add_argument(
        "--exit",
        action="store_true",
        help="with --demo: stop after the demo; exit 1 when a result is missing or wrong",
    )
    parser.add_argument(
        "--no-api", action="store_true", help="do not start the producer API (`switchyard api`)"
    )
    parser.add_argument(
        "--flower",
        action="store_true",
        help="also run Flower (the `flower` extra); task events are on for the pools it watches",
    )
    parser.set_defaults(handler=_run)


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.exit and not args.demo:
        return "--exit needs --demo"
    if args.demo and args.no_api:
        return "--demo sends through the API; drop --no-api"
    return None


def _run(args: argparse.Namespace) -> int:
    if (error := _usage_error(args)) is not None:
        print(f"switchyard: {error}", file=sys.stderr)
        return 2
    workers, pool_envs = _workers(args)
    layout = StackLayout.default()
    flower = (
        flower_command(layout.ports.flower, get_settings().broker_api_url) if args.flower else None
    )
    supervisor = Supervisor(stack_dir() / "logs")
    services = FakeServices()
    env: dict[str, str] = {}
    if args.demo:
        env.update(prepare_services(services.start()))
    events = ["--task-events"] if args.flower else []
    for worker in workers:
        port = layout.ports.pool_metrics(worker.index)
        supervisor.start(
            worker.process,
            worker_argv(worker.pool, worker.instance) + events,
            {
                **env,
                **metrics_env(worker.process, port, layout.root),
                **pool_envs[worker.pool.name],
            },
        )
    if not args.no_beat:
        beat_env = {
            **metrics_env("beat", layout.ports.beat_metrics, layout.root),
            "SWITCHYARD_HEALTH_DIR": str(stack_dir() / "beat-health"),
        }
        supervisor.start("beat", beat_argv(str(stack_dir() / "beat-schedule")), beat_env)
    supervisor.start("exporter", *exporter_command(layout.ports.exporter))
    api = None if args.no_api or args.pool else _start_api(supervisor, layout, env)
    if flower:
        supervisor.start("flower", flower)
    try:
        if not _ready(supervisor, workers, api) or supervisor.dead():
            failed = ", ".join(f"{p.name} ({p.log})" for p in supervisor.dead()) or "timeout"
            print(f"switchyard: pools did not start: {failed}", file=sys.stderr)
            return 1
        _print_table(supervisor, workers)
        _start_prometheus(
            layout, workers, beat=not args.no_beat, flower=args.flower, api=api is not None
        )
        if api is not None:
            print(f"API          {api.url}  (OpenAPI: {api.url}/docs)")
        if args.demo and api is not None:
            problems = run_demo(api)
            if args.exit:
                return 1 if problems else 0
        print("running; Ctrl-C stops every pool warmly")
        supervisor.wait_forever()
        return 0
    finally:
        print("... stopping warmly (running tasks finish)", file=sys.stderr)
        for line in supervisor.stop():
            print(line)
        services.stop()


def _workers(args: argparse.Namespace) -> tuple[list[LocalWorker], dict[str, dict[str, str]]]:
    """The workers to start and each pool's environment, once the topology is declared.

    A pool without its own broker user is refused before anything is declared or started.
    `--pool` alone replaces this process with the pool's worker, as a pod runs it.
    """
    if args.replicas is not None and (not args.pool or args.replicas < 1):
        raise SettingsError("--replicas N needs --pool NAME and N >= 1")
    workers = local_workers(TOPOLOGY, args.pool, args.replicas)
    pool_envs = {w.pool.name: pool_worker_env(w.pool.name) for w in workers}
    with connection() as conn:
        declare_topology(conn, TOPOLOGY)
    if args.pool and args.replicas is None:
        argv = local_argv(worker_argv(TOPOLOGY.pool(args.pool)))
        os.execve(argv[0], argv, {**os.environ, **pool_envs[args.pool]})
    if args.pool:
        args.no_beat = True
    return workers, pool_envs


def _ready(supervisor: Supervisor, workers: list[LocalWorker], api: LocalApi | None) -> bool:
    """Every worker consumes and the API is ready, or some process died or time ran out."""
    queues = sorted({q for w in workers for q in w.pool.queues})
    print(f"... waiting for {len(workers)} workers to consume", file=sys.stderr)
    with connection() as conn:
        ready = wait_until(
            lambda: supervisor.dead() != [] or min(consumer_counts(conn, queues).values()) > 0,
            READY_TIMEOUT_S,
            interval=0.5,
        )
    if ready and api is not None:
        ready = wait_until(lambda: bool(supervisor.dead()) or _answers(api), READY_TIMEOUT_S)
    return ready


def _start_api(supervisor: Supervisor, layout: StackLayout, env: dict[str, str]) -> LocalApi:
    """The producer API beside the pools, with the configured token or one made for this run."""
    tokens = get_settings().api_tokens or {"local": secrets.token_urlsafe(24)}
    supervisor.start(
        "api",
        api_argv(),
        {
            **env,
            setting_env("api_tokens"): json.dumps(tokens),
            setting_env("api_port"): str(layout.ports.api),
            setting_env("metrics_port"): str(layout.ports.api_metrics),
            setting_env("metrics_host"): HOST,
        },
    )
    return LocalApi(f"http://{HOST}:{layout.ports.api}", next(iter(tokens.values())))


def _answers(api: LocalApi) -> bool:
    try:
        return httpx.get(f"{api.url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _start_prometheus(
    layout: StackLayout, workers: list[LocalWorker], *, beat: bool, flower: bool, api: bool
) -> None:
    """The local Prometheus scraping this run; it keeps running until `stack down`."""
    rabbitmq = not os.environ.get(BROKER_ENV)
    targets = scrape_targets(
        TOPOLOGY, layout.ports, beat=beat, rabbitmq=rabbitmq, workers=workers, api=api
    )
    server = PrometheusServer.local(layout)
    start_prometheus(server, targets, TOPOLOGY)
    print(f"Prometheus   {server.url}  (alerts: {server.url}/alerts)")
    if flower:
        print(f"Flower       http://{HOST}:{layout.ports.flower}")


def _print_table(supervisor: Supervisor, workers: list[LocalWorker]) -> None:
    queues_of = {w.process: ",".join(w.pool.queues) for w in workers}
    print(f"{'PROCESS':<22}{'PID':<9}{'QUEUES':<28}LOG")
    for process in supervisor.processes:
        queues = queues_of.get(process.name, "-")
        print(f"{process.name:<22}{process.popen.pid:<9}{queues:<28}{process.log}")
