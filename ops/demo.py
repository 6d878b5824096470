"""The demo workload `make run` sends: every seed task once, through the producer API where
a web application would (canvases through Celery), and where each result went."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from celery.result import AsyncResult
from psycopg import sql

from config.settings import get_settings
from ops.broker import connection
from ops.fake_services import FakeServices
from ops.stack.processes import wait_until
from results.tables import TASK_RESULT
from routing.names import dlq_name

DEMO_TIMEOUT_S = 90
WAIT_S = 30  # one `GET /tasks/{id}?wait=`; the API's own limit is higher
DEAD_LETTER_WAIT_S = 10
RETRYING_STORE, MISSING_STORE = 2, 404


def prepare_services(services: FakeServices) -> dict[str, str]:
    """Script the fake services for the demo; return the env the workers need."""
    services.script[f"/inventory/stores/{RETRYING_STORE}/sync"] = [503]
    services.script[f"/inventory/stores/{MISSING_STORE}/sync"] = [404] * 5
    return {
        "SWITCHYARD_INVENTORY_API_URL": services.inventory_url,
        "SWITCHYARD_EXTERNAL_API_URL": services.external_url,
    }


Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class LocalApi:
    """The producer API of a local run and the token the demo uses."""

    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class HttpResult:
    """A task enqueued over HTTP, read back with `GET /tasks/{id}?wait=` (woken by NOTIFY)."""

    def __init__(self, client: httpx.Client, task_id: str) -> None:
        self.client = client
        self.id = task_id
        self.state = "PENDING"
        self.result: Any = None

    def ready(self, wait: float = 0) -> bool:
        reply = self.client.get(f"/tasks/{self.id}", params={"wait": wait})
        reply.raise_for_status()
        body = reply.json()
        self.state, self.result = body["state"], body["error"] or body["result"]
        return bool(body["ready"])

    def get(self, timeout: float) -> Any:
        """The result once ready, as `AsyncResult.get` gives it; raises on failure or timeout."""
        deadline = time.monotonic() + timeout
        while not self.ready(wait=min(WAIT_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"task {self.id} not ready after {timeout:.0f} s")
        if self.state != "SUCCESS":
            raise RuntimeError(f"{self.state}: {self.result}")
        return self.result


def curl_line(url: str, body: dict[str, Any] | None) -> str:
    """A request as a user would type it."""
    data = f" -H 'Content-Type: application/json' -d '{json.dumps(body)}'" if body else ""
    return f'curl -X POST -H "Authorization: Bearer $SWITCHYARD_TOKEN"{data} {url}'


def run_demo(api: LocalApi) -> list[str]:
    """Send the seeds' workload, wait for every result, and show them from PostgreSQL; print
    each API request as a `curl` line.

    Returns the problems found, one line each: a result that did not arrive in time, a value
    other than the one the seed task computes, the rejected sync missing from its dead-letter
    queue, or a result missing from the table. Empty means the whole topology worked.
    """
    from tasks.analytics import extract_group, summary_chain, summary_chord

    client = httpx.Client(base_url=api.url, headers=api.headers, timeout=DEMO_TIMEOUT_S)
    print(f"the demo's requests, as curl lines (export SWITCHYARD_TOKEN={api.token}):")

    def post(path: str, body: dict[str, Any] | None = None) -> HttpResult:
        print("  " + curl_line(api.url + path, body))
        reply = client.post(path, json=body)
        reply.raise_for_status()
        return HttpResult(client, str(reply.json()["task_id"]))

    dead_before = _depth(dlq_name("webhooks"))
    started = time.monotonic()
    sent: list[tuple[str, Any, Check]] = [
        (
            f"add({i}, {i * 10})",
            post("/tasks/tasks.demo.add", {"arguments": {"x": i, "y": i * 10}}),
            _equals(i * 11),
        )
        for i in range(1, 4)
    ]
    sent.append(
        (
            "transcode 1024 mp4",
            post("/videos/1024/transcode", {"target_format": "mp4"}),
            _fields(output="videos/1024.mp4"),
        )
    )
    sent.append(
        (
            "transcode 2048 webm, countdown 10 s, priority 8",
            post(
                "/videos/2048/transcode", {"target_format": "webm", "countdown": 10, "priority": 8}
            ),
            _fields(output="videos/2048.webm", priority=8),
        )
    )
    sent.append(("inventory sync store 1", post("/stores/1/inventory-sync"), _fields(status=200)))
    sent.append(
        (
            f"inventory sync store {RETRYING_STORE} (503 once, retried)",
            post(f"/stores/{RETRYING_STORE}/inventory-sync"),
            _fields(status=200, attempts=2),
        )
    )
    rejected = post(f"/stores/{MISSING_STORE}/inventory-sync")
    for n in range(3):
        sent.append(
            (
                f"rate-limited call {n}",
                post("/external-calls", {"payload": {"n": n}}),
                _fields(status=200),
            )
        )
    # Canvases publish more than one message: they go through Celery, not the API.
    sent.append(
        (
            "chain extract->analyze->summary(7)",
            summary_chain(7).apply_async(),
            _fields(records=[7], count=5, mean=21.0),
        )
    )
    sent.append(
        (
            "group of 5 extracts",
            extract_group([1, 2, 3, 4, 5]).apply_async(),
            lambda v: _equals([1, 2, 3, 4, 5])([r["record_id"] for r in v]),
        )
    )
    sent.append(
        (
            "chord of 5 -> summary",
            summary_chord([1, 2, 3, 4, 5]).apply_async(),
            _fields(records=[1, 2, 3, 4, 5], count=25, mean=9.0),
        )
    )
    print(f"sent {len(sent) + 1} demo tasks; waiting (the countdown and the rate limit take ~15 s)")

    problems: list[str] = []
    for label, result, check in sent:
        try:
            value = result.get(timeout=DEMO_TIMEOUT_S)
        except Exception as exc:  # any failure of a demo task is reported, then the next
            problems.append(f"{label}: {type(exc).__name__}: {_short(exc)}")
            print(f"  {time.monotonic() - started:5.1f}s  {label:<50} !! {_short(exc)}")
            continue
        wrong = check(value)
        if wrong:
            problems.append(f"{label}: {wrong}")
        mark = "!!" if wrong else "->"
        print(f"  {time.monotonic() - started:5.1f}s  {label:<50} {mark} {_short(value)}")
    problems += _show_dead_letter(rejected, "webhooks", dead_before)
    problems += _show_rows([r.id for _, r, _ in sent if isinstance(r, AsyncResult | HttpResult)])
    client.close()
    if problems:
        print(f"demo: {len(problems)} problem(s):")
        for line in problems:
            print(f"  {line}")
    else:
        print(f"demo: all {len(sent) + 1} tasks ended as expected")
    return problems


def _equals(expected: Any) -> Check:
    def check(value: Any) -> str | None:
        return None if value == expected else f"expected {expected!r}, got {_short(value)}"

    return check


def _fields(**expected: Any) -> Check:
    """The result is a mapping holding these values (other keys may vary by run)."""

    def check(value: Any) -> str | None:
        if not isinstance(value, dict):
            return f"expected a mapping, got {_short(value)}"
        wrong = {k: value.get(k) for k, v in expected.items() if value.get(k) != v}
        return f"expected {expected!r}, got {wrong!r}" if wrong else None

    return check


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def _depth(queue: str) -> int:
    with connection() as conn:
        channel: Any = conn.channel()
        _, depth, _ = channel.queue_declare(queue=queue, passive=True)
        channel.close()
    return int(depth)


def _show_dead_letter(result: HttpResult, queue: str, before: int) -> list[str]:
    """The 404'd sync is in the dead-letter queue with its reason, not retried forever."""
    result.ready(wait=WAIT_S)
    dlq = dlq_name(queue)
    wait_until(lambda: _depth(dlq) > before, DEAD_LETTER_WAIT_S, interval=0.2)
    depth = _depth(dlq)
    print(
        f"  inventory sync store {MISSING_STORE}: {result.state} ({result.result}); "
        f"{dlq} now holds {depth} message(s); see `switchyard dlq show {dlq}`"
    )
    if depth <= before:
        return [f"inventory sync store {MISSING_STORE}: not dead-lettered into {dlq}"]
    return []


def _show_rows(ids: list[str]) -> list[str]:
    table, state = _result_table()
    with psycopg.connect(get_settings().database_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT task_id, {state}, date_done FROM {table} WHERE task_id = ANY(%s) "
                "ORDER BY date_done"
            ).format(state=sql.Identifier(state), table=sql.Identifier(table)),
            (ids,),
        ).fetchall()
    print(f"{len(rows)} results stored in PostgreSQL (table {table}), last five:")
    for task_id, status, done in rows[-5:]:
        print(f"  {task_id}  {status:<8} {done:%H:%M:%S}")
    missing = len(set(ids)) - len({row[0] for row in rows})
    return [f"{missing} result(s) missing from {table}"] if missing else []


def _result_table() -> tuple[str, str]:
    """The table the selected result backend writes, and its state column."""
    if get_settings().result_backend == "stock":
        return "celery_taskmeta", "status"
    return TASK_RESULT, "state"
