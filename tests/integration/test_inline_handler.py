"""The inline pool's one-decode handler (`execution.inline_handler`) on the `default` pool's
real workers: arguments of every JSON shape arrive as sent, and a message the shortcut must
leave to Celery's own handler (task events switched on in the running worker) still gets
what Celery gives it, a `task-received` event. The pool is declared `track_started=False`:
a running task's state stays PENDING (other pools' tasks show STARTED:
`test_commands.py`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue

from config.app import app
from config.settings import Settings
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from tests.integration.conftest import start_pool
from tests.tasks.probes import echo, mark_then_wait

POOL = TOPOLOGY.pool_of_queue(TOPOLOGY.default_queue)
EVENTS = Exchange("celeryev", type="topic")

SHAPES: list[Any] = [
    None,
    0,
    2**70,
    -1.5,
    "naïve ☃ text",
    [],
    {},
    [1, [2, [3, {"four": [5]}]]],
    {"nested": {"list": [True, False, None], "unicode": "ü"}, "n": 1},
    "x" * 100_000,
]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    supervisor = Supervisor(tmp_path_factory.mktemp("inline-handler"))
    try:
        start_pool(supervisor, POOL.name)
        yield supervisor
    finally:
        supervisor.stop()


def test_every_argument_shape_arrives_as_sent(workers: Supervisor) -> None:
    results = [echo.delay(value) for value in SHAPES]
    results.append(echo.apply_async(kwargs={"value": SHAPES[-2], "pause_s": 0}))
    got = [result.get(timeout=60) for result in results]
    assert got == [*SHAPES, SHAPES[-2]]
    assert not workers.dead()


def _received_events(settings: Settings, send: Any) -> list[dict[str, Any]]:
    """The `task-received` events the workers send while `send()` runs its task."""
    events: list[dict[str, Any]] = []
    with Connection(settings.broker_url) as conn:
        queue = Queue(
            f"test-events-{uuid.uuid4().hex[:8]}",
            EVENTS,
            routing_key="task.#",
            auto_delete=True,
            exclusive=True,
        )

        def keep(body: Any, message: Any) -> None:
            body = json.loads(body) if isinstance(body, str | bytes) else body
            # A worker sends task events in batches (a list) from its event loop.
            for event in body if isinstance(body, list) else [body]:
                if event.get("type") == "task-received":
                    events.append(event)
            message.ack()

        with conn.Consumer(queue, callbacks=[keep], accept=["json"]):
            send().get(timeout=60)
            for _ in range(20):
                try:
                    conn.drain_events(timeout=0.5)
                except TimeoutError:
                    if events:
                        break
    return events


def test_task_events_switched_on_in_a_running_worker_are_sent(
    workers: Supervisor, settings: Settings
) -> None:
    destination = [f"{POOL.name}@{host}" for host in _hostnames()]
    try:
        assert app.control.enable_events(destination=destination, reply=True, timeout=10)
        task_id = str(uuid.uuid4())
        events = _received_events(settings, lambda: echo.apply_async((1,), task_id=task_id))
        assert [e["uuid"] for e in events] == [task_id]
    finally:
        app.control.disable_events(destination=destination, reply=True, timeout=10)
    # Off again: the shortcut takes the next one, and no event is sent for it.
    assert _received_events(settings, lambda: echo.delay(2)) == []


def _hostnames() -> list[str]:
    replies = app.control.ping(timeout=5) or []
    names = [name for reply in replies for name in reply]
    return [n.partition("@")[2] for n in names if n.startswith(f"{POOL.name}@")]


def test_a_running_task_of_a_pool_without_track_started_stays_pending(
    workers: Supervisor, tmp_path: Path
) -> None:
    assert not POOL.track_started
    started, gate = tmp_path / "started", tmp_path / "gate"
    result = mark_then_wait.delay(str(started), str(gate))
    assert wait_until(started.exists, 30), "the task never started"
    state_while_running = result.state
    gate.touch()
    assert result.get(timeout=30) == "done"
    assert state_while_running == "PENDING"
