"""Broker connections for operator commands, from the settings."""

from __future__ import annotations

from typing import Any

from kombu import Connection

from config.settings import get_settings


def connection() -> Connection:
    """A kombu connection to the configured broker (not yet connected)."""
    settings = get_settings()
    settings.require("broker_url")
    return Connection(settings.broker_url, heartbeat=0, connect_timeout=5)


def consumer_counts(conn: Connection, queues: list[str]) -> dict[str, int]:
    """Consumers per queue, as the broker counts them (a passive declare per queue)."""
    counts = {}
    channel: Any = conn.channel()  # the stubs know no queue_declare
    try:
        for name in queues:
            _, _, consumers = channel.queue_declare(queue=name, passive=True)
            counts[name] = consumers
    finally:
        channel.close()
    return counts
