"""The benchmark's ratios point the right way and its targets are judged on medians."""

from __future__ import annotations

from ops.bench.model import Configuration, Figure, Suite, Workload
from ops.bench.report import as_dict, table
from ops.bench.runner import Outcome

FAST = Figure("rate", "rate", "tasks/s", "higher", ">= 3x", lambda v, base: v >= 3 * base)
SLOW = Figure("latency", "latency", "ms", "lower", "<= 5 ms", lambda v, _: v <= 5)


def _outcome() -> Outcome:
    suite = Suite(
        "demo",
        (Configuration("old", {}), Configuration("new", {})),
        (Workload("w", (FAST, SLOW), lambda app, progress, configuration: {}),),
    )
    outcome = Outcome(suite, repeat=3)
    for rate, latency in ((100, 20), (110, 22), (90, 21)):
        outcome.record("old", {"rate": rate, "latency": latency})
    for rate, latency in ((280, 4), (320, 6), (300, 5)):
        outcome.record("new", {"rate": rate, "latency": latency})
    return outcome


def test_medians_ratios_and_targets() -> None:
    figures = {f["figure"]: f for f in as_dict(_outcome())["figures"]}
    assert figures["rate"]["median"] == {"old": 100, "new": 300}
    assert figures["rate"]["ratio_to_old"] == {"new": 3.0}
    assert figures["rate"]["target_met"] == {"new": True}
    assert figures["latency"]["ratio_to_old"] == {"new": 21 / 5}
    assert figures["latency"]["target_met"] == {"new": True}


def test_table_shows_each_figure_with_its_ratio_and_target() -> None:
    lines = table(_outcome())
    assert lines[0].split() == ["figure", "old", "new", "new", "vs", "old", "target"]
    assert "3.0x better" in lines[1]
    assert ">= 3x: met" in lines[1]
    assert lines[-1].startswith("median of 3 runs")
