"""The bookkeeping of batched confirms: which task a broker's ack or nack settles."""

from __future__ import annotations

from tasks.bulk import _Confirms


def _published(count: int) -> _Confirms:
    confirms = _Confirms()
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
