"""The demo workload `make run` sends, and the proof that results reached PostgreSQL."""

from __future__ import annotations

import psycopg
from psycopg import sql

from config.settings import get_settings

DEMO_TIMEOUT_S = 60


def run_demo() -> None:
    """Send a few tasks, wait for them, and print their rows from the result table."""
    from tasks.demo import add

    sent = [add.delay(i, i * 10) for i in range(1, 6)]
    print(f"sent {len(sent)} demo tasks to queue 'default'; waiting for results")
    for result in sent:
        result.get(timeout=DEMO_TIMEOUT_S)
    ids = [r.id for r in sent]
    table, state = _result_table()
    with psycopg.connect(get_settings().database_url) as conn:
        rows = conn.execute(
            sql.SQL(
                "SELECT task_id, {state}, date_done FROM {table} WHERE task_id = ANY(%s) "
                "ORDER BY date_done"
            ).format(state=sql.Identifier(state), table=sql.Identifier(table)),
            (ids,),
        ).fetchall()
    values = {r.id: r.result for r in sent}
    print(f"results stored in PostgreSQL (table {table}):")
    print(f"  {'TASK ID':<38}{'STATUS':<10}{'RESULT':<8}DONE")
    for task_id, status, done in rows:
        print(f"  {task_id:<38}{status:<10}{values[task_id]!s:<8}{done:%H:%M:%S.%f}")


def _result_table() -> tuple[str, str]:
    """The table the selected result backend writes, and its state column."""
    if get_settings().result_backend == "stock":
        return "celery_taskmeta", "status"
    from results.schema import TASK_RESULT

    return TASK_RESULT.name, "state"
