"""The benchmark's ratios point the right way and its targets are judged on medians."""

from __future__ import annotations

import os

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
    assert lines[0].split() == ["figure", "old", "new", "new/old", "target"]
    assert "3.00x" in lines[1]
    assert ">= 3x: met" in lines[1]
    assert lines[-1].startswith("median of 3 runs")


RAW = Figure("raw", "raw rate", "msg/s", "higher")


def test_reference_medians_and_fractions_of_the_last_configuration() -> None:
    base = _outcome()
    suite = Suite(
        "demo",
        base.suite.configurations,
        base.suite.workloads,
        reference=(RAW,),
        fractions=((FAST, RAW),),
    )
    outcome = Outcome(suite, repeat=3, runs=base.runs)
    for raw in (1000, 1200, 600):
        outcome.record_reference({"raw": raw})
    data = as_dict(outcome)
    assert data["reference"]["raw"]["median"] == 1000
    assert data["fractions_of_reference"] == {"new": {"rate/raw": 0.3}}
    lines = table(outcome)
    assert "  raw rate: 1,000 msg/s" in lines
    assert "  new rate = 30% of raw" in lines


def test_memory_figure_is_reported_with_the_workload() -> None:
    memory = Figure("rss", "peak RSS", "MiB", "lower")
    workload = Workload("w", (FAST,), lambda app, progress, configuration: {}, memory=memory)
    assert workload.all_figures == (FAST, memory)


def test_tree_rss_counts_this_process() -> None:
    from ops.bench.memory import tree_rss_bytes

    assert tree_rss_bytes(os.getpid()) > 0
    assert tree_rss_bytes(2**22 + 1) == 0


def test_a_worse_figure_reads_as_worse() -> None:
    outcome = _outcome()
    outcome.runs["new"]["rate"] = [50, 50, 50]
    assert "0.50x" in table(outcome)[1]
    assert ">= 3x: missed" in table(outcome)[1]
