"""Test support for the metrics tier: free ports, a TCP proxy that can cut a connection,
polling with a deadline, and reading a /metrics page."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 60.0) -> T:
    """Read until `done` holds or the deadline passes; return the last value read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(0.25)


def scrape(port: int) -> dict[str, float]:
    """Samples of a /metrics page as `name{labels}` -> value (labels sorted), or {} if down."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            text = page.read().decode()
    except OSError:
        return {}
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples
