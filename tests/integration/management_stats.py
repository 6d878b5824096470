"""Reading the RabbitMQ management API's statistics in tests, which may not be there yet.

The management API lists an object before its statistics arrive (once every
`collect_statistics_interval`, 5 s by default, later on a loaded machine): a consumer comes
with `channel_details: []`, a queue without `messages_unacknowledged` or `message_stats`.
Tests read them with `stat`, which gives None until they are there, and wait for them with
a bounded poll; `tests/unit/test_management_stats_reads.py` fails on a test that indexes
them instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields the management API fills in from statistics, absent (or empty) until they arrive.
STATISTICS = frozenset(
    (
        "channel_details",
        "connection_details",
        "consumer_details",
        "message_stats",
        "messages",
        "messages_ready",
        "messages_unacknowledged",
    )
)


def stat(row: Any, *path: str) -> Any:
    """`row[path[0]][path[1]]...`, or None while a part of it is missing or empty."""
    value = row
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value
