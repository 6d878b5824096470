"""No code indexes a management-API statistic: until the statistics arrive, the field is
absent or empty (`channel_details: []`), and `row["channel_details"]["connection_name"]`
raises. Tests read them with `tests.integration.management_stats.stat` and poll."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.integration.management_stats import STATISTICS, stat
from tests.unit.first_party import ROOT, first_party_sources


def _indexed_statistics(text: str) -> Iterator[tuple[int, str]]:
    """(line, field) of every `x["field"]` and `x.get("field", ...)[...]` on a statistic."""
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Subscript):
            continue
        key = node.slice
        if isinstance(key, ast.Constant) and key.value in STATISTICS:
            yield node.lineno, str(key.value)
        inner = node.value
        if (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Attribute)
            and inner.func.attr == "get"
            and inner.args
            and isinstance(inner.args[0], ast.Constant)
            and inner.args[0].value in STATISTICS
        ):
            yield node.lineno, str(inner.args[0].value)


def _sources() -> Iterator[tuple[Path, str]]:
    yield from first_party_sources()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        yield path, path.read_text()


def test_no_code_indexes_a_management_api_statistic() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} indexes {field!r}"
        for path, text in _sources()
        for line, field in _indexed_statistics(text)
    ]
    assert found == [], "read statistics with management_stats.stat and poll: " + str(found)


def test_the_scan_sees_the_read_that_failed_on_a_loaded_machine() -> None:
    failed = 'names = {c["channel_details"]["connection_name"] for c in consumers}'
    assert [field for _, field in _indexed_statistics(failed)] == ["channel_details"]
    also = 'n = row.get("message_stats", {})["publish"]'
    assert [field for _, field in _indexed_statistics(also)] == ["message_stats"]


def test_a_statistic_not_there_yet_reads_as_none() -> None:
    listed_early = {"queue": {"name": "default"}, "channel_details": []}
    assert stat(listed_early, "channel_details", "connection_name") is None
    assert stat({"name": "default"}, "messages_unacknowledged") is None
    reported = {"channel_details": {"connection_name": "127.0.0.1:5 -> 127.0.0.1:5672"}}
    assert stat(reported, "channel_details", "connection_name") == "127.0.0.1:5 -> 127.0.0.1:5672"
