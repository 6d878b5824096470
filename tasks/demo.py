"""A small task that shows the whole path works: broker, worker, result in PostgreSQL."""

from __future__ import annotations

from config.app import app


@app.task
def add(x: int, y: int) -> int:
    """Add two numbers; the demo producer sends a few of these."""
    return x + y
