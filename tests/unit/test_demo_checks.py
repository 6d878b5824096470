"""The demo's verdict can fail: each check sees a wrong value, a missing key and a non-mapping."""

from __future__ import annotations

from ops.demo import _equals, _fields


def test_equals_accepts_the_value_and_names_a_different_one() -> None:
    assert _equals(11)(11) is None
    assert _equals(11)(12) == "expected 11, got 12"


def test_fields_ignore_other_keys_but_see_a_wrong_or_missing_one() -> None:
    check = _fields(output="videos/1.mp4", priority=8)
    assert check({"output": "videos/1.mp4", "priority": 8, "worker": "any"}) is None
    assert check({"output": "videos/1.mp4", "priority": 20}) is not None
    assert "priority" in (check({"output": "videos/1.mp4"}) or "")
    assert check(["not", "a", "mapping"]) == "expected a mapping, got ['not', 'a', 'mapping']"
