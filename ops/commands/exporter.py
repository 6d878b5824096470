"""`switchyard exporter`: serve the queue metrics of every declared queue until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from config.settings import get_settings
from routing.management_api import ManagementAPI, redact


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "exporter", help="serve queue metrics from the broker's management API (Prometheus)"
    )
    parser.set_defaults(handler=_serve)


def _serve(_: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from metrics.exporter import exporter_registry, vhost_of
    from routing.declaration import TOPOLOGY

    settings = get_settings()
    settings.require("broker_api_url")
    vhost = vhost_of(settings.broker_url)
    registry = exporter_registry(ManagementAPI(settings.broker_api_url), vhost, TOPOLOGY)
    server, _thread = start_http_server(
        settings.exporter_port, addr=settings.metrics_host, registry=registry
    )
    print(
        f"serving queue metrics of vhost {vhost!r} from {redact(settings.broker_api_url)} "
        f"on http://{settings.metrics_host}:{settings.exporter_port}/metrics",
        flush=True,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0
