"""The demo workload `make run` sends: every seed task once, and where each result went."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from celery.result import AsyncResult
from psycopg import sql

from config.settings import get_settings
from ops.broker import connection
from ops.fake_services import FakeServices
from routing.names import dlq_name

DEMO_TIMEOUT_S = 90
RETRYING_STORE, MISSING_STORE = 2, 404


def prepare_services(services: FakeServices) -> dict[str, str]:
    """Script the fake services for the demo; return the env the workers need."""
    services.script[f"/inventory/stores/{RETRYING_STORE}/sync"] = [503]
    services.script[f"/inventory/stores/{MISSING_STORE}/sync"] = [404] * 5
    return {
        "SWITCHYARD_INVENTORY_API_URL": services.inventory_url,
        "SWITCHYARD_EXTERNAL_API_URL": services.external_url,
    }


def run_demo() -> None:
    """Send the seeds' workload, wait for every result, and show them from PostgreSQL."""
    from tasks.analytics import extract_group, summary_chain, summary_chord
    from tasks.demo import add
    from tasks.external import call_external_rate_limited_api
    from tasks.inventory import sync_inventory_webhook
    from tasks.media import process_video_transcode

    started = time.monotonic()
    sent: list[tuple[str, Any]] = [
        (f"add({i}, {i * 10})", add.delay(i, i * 10)) for i in range(1, 4)
    ]
    sent.append(("transcode 1024 mp4", process_video_transcode.delay(1024, "mp4")))
    sent.append(
        (
            "transcode 2048 webm, countdown 10 s, priority 8",
            process_video_transcode.apply_async(
                args=(2048, "webm"), countdown=10, queue="media_heavy", priority=8
            ),
        )
    )
    for store in (1, RETRYING_STORE):
        sent.append((f"inventory sync store {store}", sync_inventory_webhook.delay(store)))
    rejected = sync_inventory_webhook.delay(MISSING_STORE)
    for n in range(3):
        sent.append((f"rate-limited call {n}", call_external_rate_limited_api.delay({"n": n})))
    sent.append(("chain extract->analyze->summary(7)", summary_chain(7).apply_async()))
    sent.append(("group of 5 extracts", extract_group([1, 2, 3, 4, 5]).apply_async()))
    sent.append(("chord of 5 -> summary", summary_chord([1, 2, 3, 4, 5]).apply_async()))
    print(f"sent {len(sent) + 1} demo tasks; waiting (the countdown and the rate limit take ~15 s)")

    for label, result in sent:
        value = result.get(timeout=DEMO_TIMEOUT_S)
        print(f"  {time.monotonic() - started:5.1f}s  {label:<50} -> {_short(value)}")
    _show_dead_letter(rejected, "webhooks")
    _show_rows([r for _, r in sent if isinstance(r, AsyncResult)])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def _show_dead_letter(result: AsyncResult[Any], queue: str) -> None:
    """The 404'd sync is in the dead-letter queue with its reason, not retried forever."""
    deadline = time.monotonic() + 30
    while not result.ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    with connection() as conn:
        channel: Any = conn.channel()
        _, depth, _ = channel.queue_declare(queue=dlq_name(queue), passive=True)
        channel.close()
    dlq = dlq_name(queue)
    print(
        f"  inventory sync store {MISSING_STORE}: {result.state} ({result.result}); "
        f"{dlq} now holds {depth} message(s); see `switchyard dlq show {dlq}`"
    )


def _show_rows(results: list[AsyncResult[Any]]) -> None:
    ids = [r.id for r in results]
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


def _result_table() -> tuple[str, str]:
    """The table the selected result backend writes, and its state column."""
    if get_settings().result_backend == "stock":
        return "celery_taskmeta", "status"
    from results.schema import TASK_RESULT

    return TASK_RESULT.name, "state"
