"""What the API accepts for a task comes from its signature and its queue's declaration."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from config.app import app
from producer.task_inputs import MAX_COUNTDOWN_S, OptionError, arguments_model, declared_tasks
from routing.declaration import TOPOLOGY


@pytest.fixture(scope="module")
def offered() -> dict[str, Any]:
    app.loader.import_default_modules()
    return {t.name: t for t in declared_tasks(dict(app.tasks), TOPOLOGY)}


def test_every_routed_task_is_offered_and_celery_builtins_are_not(offered: dict[str, Any]) -> None:
    routed = {n for n in app.tasks if TOPOLOGY.route_for(n) and not n.startswith("celery.")}
    assert set(offered) == routed
    assert "tasks.media.process_video_transcode" in offered
    assert offered["tasks.media.process_video_transcode"].queue.name == "media_heavy"


def test_a_bound_task_is_offered_without_self_and_with_its_defaults() -> None:
    model = arguments_model(app.tasks["tasks.media.process_video_transcode"])
    assert set(model.model_fields) == {"video_id", "target_format", "simulate_s"}
    parsed = model.model_validate({"video_id": "12", "target_format": "mp4"})
    assert parsed.model_dump() == {"video_id": 12, "target_format": "mp4", "simulate_s": 0.2}


def test_a_type_mismatch_and_an_unknown_argument_name_the_field() -> None:
    model = arguments_model(app.tasks["tasks.demo.add"])
    with pytest.raises(ValidationError) as mismatch:
        model.model_validate({"x": "two", "y": 1})
    assert mismatch.value.errors()[0]["loc"] == ("x",)
    with pytest.raises(ValidationError) as unknown:
        model.model_validate({"x": 1, "y": 2, "z": 3})
    assert unknown.value.errors()[0]["loc"] == ("z",)


@pytest.mark.parametrize(
    ("task", "priority", "countdown", "field"),
    [
        ("tasks.demo.add", 1, None, "priority"),
        ("tasks.media.process_video_transcode", 11, None, "priority"),
        ("tasks.media.process_video_transcode", -1, None, "priority"),
        ("tasks.demo.add", None, -0.5, "countdown"),
        ("tasks.demo.add", None, MAX_COUNTDOWN_S + 1, "countdown"),
    ],
)
def test_options_the_queue_cannot_honour_are_refused(
    offered: dict[str, Any], task: str, priority: int | None, countdown: float | None, field: str
) -> None:
    with pytest.raises(OptionError) as refused:
        offered[task].check_options(priority, countdown)
    assert refused.value.field == field


def test_options_within_the_queue_s_limits_pass(offered: dict[str, Any]) -> None:
    top = TOPOLOGY.queue("media_heavy").max_priority
    offered["tasks.media.process_video_transcode"].check_options(top, 30.0)
    offered["tasks.demo.add"].check_options(None, 0)
