"""The bookkeeping of batched confirms, and when stamped messages may replace Celery's."""

from __future__ import annotations

from typing import Any

from celery import signals

from producer.bulk import Confirms, only_own_publish_receivers


def _published(count: int) -> Confirms:
    confirms = Confirms()
    for i in range(1, count + 1):
        confirms.published(f"task-{i}")
    return confirms


def test_a_multiple_ack_settles_every_tag_up_to_it() -> None:
    confirms = _published(5)
    confirms.settle(3, multiple=True, refused=False)
    assert list(confirms.pending) == [4, 5]
    assert confirms.refused_in_order() == []


def test_nacks_name_the_refused_tasks_in_order() -> None:
    confirms = _published(6)
    confirms.settle(2, multiple=False, refused=True)
    confirms.settle(4, multiple=True, refused=True)
    confirms.settle(6, multiple=True, refused=False)
    assert confirms.refused_in_order() == ["task-1", "task-2", "task-3", "task-4"]
    assert confirms.pending == {}


def test_templates_only_while_nothing_else_listens_to_publish_signals() -> None:
    import config.app  # noqa: F401 - connects the metrics' own receivers

    def foreign(**_: Any) -> None:
        """Someone else's receiver: it must see every message, so none is stamped."""

    assert only_own_publish_receivers()
    signals.before_task_publish.connect(foreign, weak=False)
    try:
        assert not only_own_publish_receivers()
    finally:
        signals.before_task_publish.disconnect(foreign)
    assert only_own_publish_receivers()
