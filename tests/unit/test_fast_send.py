"""The task base offers `apply_async` to an installed sender after the publish checks, and
Celery's own path runs when the sender declines or an option no sender covers is given;
`producer.fast_apply` covers only the options a template reproduces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kombu import Queue

from producer.fast_apply import templated_options
from tests.unit.eager_app import run_eager

SCRIPT = """
import json
from celery.result import AsyncResult
from config.app import app
from execution.fast_send import Declined, install_fast_send
from tasks.demo import add

seen = []
answer = {"value": None}

def sender(task, args, kwargs, task_id, options):
    seen.append([task.name, list(args or ()), kwargs, task_id, sorted(options)])
    return answer["value"] if answer["value"] is not None else Declined()

install_fast_send(app, sender)
out = {}
try:
    add.apply_async((1, 2), priority=99)
except ValueError as exc:
    out["refused"] = type(exc).__name__
out["seen after refusal"] = len(seen)
answer["value"] = AsyncResult("from-the-sender", app=app)
out["sent"] = add.apply_async((1, 2), task_id="mine", ignore_result=True).id
answer["value"] = None
out["declined"] = add.delay(2, 3).get()
out["linked"] = add.apply_async((3, 4), link=add.s(1)).get()
out["seen"] = seen
install_fast_send(app, None)
out["uninstalled"] = add.delay(4, 5).get()
out["seen at the end"] = len(seen)
print(json.dumps(out))
"""


def test_the_sender_sees_checked_calls_and_celery_runs_what_it_declines(tmp_path: Path) -> None:
    out = run_eager(SCRIPT, tmp_path)
    assert out["refused"] == "PriorityOutOfRange"
    assert out["seen after refusal"] == 0  # the checks ran first and refused
    assert out["sent"] == "from-the-sender"  # what the sender returns is the call's result
    assert out["declined"] == 5  # declined: Celery's own apply_async ran the task
    assert out["linked"] == 7  # a link is Celery's alone; the sender was not asked
    assert out["seen"] == [
        ["tasks.demo.add", [1, 2], None, "mine", ["ignore_result"]],
        ["tasks.demo.add", [2, 3], {}, None, []],
        # The link's own call, sent by the finished task with its parent's ids: the sender
        # is asked, and `producer.fast_apply` declines options it does not template.
        ["tasks.demo.add", [7, 1], {}, None, ["parent_id", "root_id"]],
    ]
    assert out["uninstalled"] == 9
    assert out["seen at the end"] == 3


@pytest.mark.parametrize(
    ("options", "covered"),
    [
        ({}, True),
        ({"queue": "default", "priority": 3, "ignore_result": True}, True),
        ({"countdown": 5}, False),
        ({"eta": "2026-01-01T00:00:00"}, False),
        ({"expires": 60}, False),
        ({"headers": {"x": 1}}, False),
        ({"parent_id": "p", "root_id": "r"}, False),
        ({"retry": False}, False),
        ({"queue": Queue("default")}, False),
    ],
)
def test_only_options_a_template_reproduces_take_the_fast_path(
    options: dict[str, Any], covered: bool
) -> None:
    assert templated_options(options) is covered
