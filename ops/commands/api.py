"""`switchyard api`: serve the producer API with uvicorn, as a pod runs it.

One process with one event loop: the API waits on the broker and the database, it does not
compute, so it scales by replicas. Its metrics are served on their own port, like a worker's.
"""

from __future__ import annotations

import argparse
import logging
import sys

from config.settings import SettingsError, get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("api", help="serve the producer API (FastAPI on uvicorn)")
    parser.add_argument("--host", help="listen address (default: SWITCHYARD_API_HOST)")
    parser.add_argument("--port", type=int, help="listen port (default: SWITCHYARD_API_PORT)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(handler=_serve)


def api_argv() -> list[str]:
    """The command line of `switchyard api` with this interpreter (no PATH needed)."""
    return [sys.executable, "-m", "ops.cli", "api"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from config.app import app as celery
    from metrics.exposition import serve_metrics
    from producer.http.app import create_app

    settings = get_settings()
    try:
        api = create_app(celery, settings)
    except ValueError as exc:  # a missing or short token
        raise SettingsError(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # pika logs every connection step, and each failed one with a stack; the publisher logs
    # each lost or refused connection once, with the reason.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    serve_metrics(settings.metrics_host, settings.metrics_port)
    uvicorn.run(
        api,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        access_log=args.access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
    return 0
