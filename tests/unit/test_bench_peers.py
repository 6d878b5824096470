"""The peers' comparison: Switchyard's ratio to each peer, targets against peers, floors and
absolute limits, missing figures, the order configurations take turns in."""

from __future__ import annotations

import json

from ops.bench.model import Configuration, Figure, Suite, Workload, at_least, at_most, within
from ops.bench.report import as_dict, table
from ops.bench.runner import Outcome, rotation, steps

PEERS = (at_least(1.0, "dramatiq"), at_least(4, "stock"))
DRAIN = Figure("drain", "drain", "tasks/s", "higher", targets=PEERS)
P50 = Figure("p50", "round trip p50", "ms", "lower", targets=(within(1.5, "floor", "floor"),))
P99 = Figure("p99", "round trip p99", "ms", "lower", targets=(at_most(10, "ms"),))
FLOOR = Figure("floor", "floor p50", "ms", "lower")


def _celery_only(configuration: Configuration) -> bool:
    return configuration.kind == "celery"


def _suite() -> Suite:
    return Suite(
        "peers",
        (
            Configuration("stock", {}, queue_type="classic"),
            Configuration("dramatiq", {}, kind="dramatiq", queue_type="classic"),
            Configuration("switchyard", {}, queue_type="quorum"),
        ),
        (
            Workload("drain", (DRAIN,), lambda client, progress, c: {}, stage="drain"),
            Workload("rt", (P50, P99), lambda client, progress, c: {}, applies=_celery_only),
        ),
        reference=(FLOOR,),
        beside=((P50, FLOOR),),
    )


def _outcome(drain: float = 900, p50: float = 6.0, p99: float = 12.0) -> Outcome:
    outcome = Outcome(_suite(), repeat=3)
    for value in (200, 210, 190):
        outcome.record("stock", {"drain": value, "p50": 30, "p99": 40})
    for value in (1000, 2000, 1500):
        outcome.record("dramatiq", {"drain": value})
    for _ in range(3):
        outcome.record("switchyard", {"drain": drain, "p50": p50, "p99": p99})
    for floor in (5.0, 4.0, 4.5):
        outcome.record_reference({"floor": floor})
    return outcome


def _targets(outcome: Outcome) -> dict[str, bool | None]:
    return {f"{t['figure']} {t['target']}": t["met"] for t in as_dict(outcome)["targets"]}


def test_ratios_are_the_subjects_to_each_peer() -> None:
    data = json.loads(json.dumps(as_dict(_outcome())))  # what --json prints
    drain = next(f for f in data["figures"] if f["figure"] == "drain")
    assert drain["ratio_to_stock"] == {"switchyard": 900 / 200}
    assert drain["ratio_to_dramatiq"] == {"switchyard": 900 / 1500}
    p50 = next(f for f in data["figures"] if f["figure"] == "p50")
    assert "ratio_to_dramatiq" not in p50  # Dramatiq ran no round trip
    assert p50["ratio_to_stock"] == {"switchyard": 5.0}
    assert p50["floor"] == 4.5


def test_targets_against_peers_floors_and_limits_are_met_or_missed() -> None:
    assert _targets(_outcome()) == {
        "drain >= 1x dramatiq": False,
        "drain >= 4x stock": True,
        "p50 <= 1.5x floor": True,
        "p99 <= 10 ms": False,
    }
    assert _targets(_outcome(drain=1600, p50=7.0, p99=9.0)) == {
        "drain >= 1x dramatiq": True,
        "drain >= 4x stock": True,
        "p50 <= 1.5x floor": False,
        "p99 <= 10 ms": True,
    }


def test_a_target_whose_figures_are_missing_is_not_measured() -> None:
    outcome = _outcome()
    del outcome.runs["dramatiq"]
    outcome.reference.clear()
    targets = _targets(outcome)
    assert targets["drain >= 1x dramatiq"] is None
    assert targets["p50 <= 1.5x floor"] is None
    assert "  drain >= 1x dramatiq: not measured (900)" in table(outcome)


def test_table_shows_missing_figures_floors_targets_and_queue_types() -> None:
    lines = table(_outcome())
    assert lines[0].split() == [
        "figure",
        "stock",
        "dramatiq",
        "switchyard",
        "switchyard/stock",
        "switchyard/dramatiq",
        "floor",
    ]
    p50 = next(line for line in lines if line.startswith("round trip p50"))
    assert p50.split() == [
        "round",
        "trip",
        "p50",
        "(ms)",
        "30.0",
        "-",
        "6.00",
        "5.00x",
        "-",
        "4.50",
    ]
    assert "  drain >= 1x dramatiq: MISSED (900 against 1,500)" in lines
    assert "  round trip p99 <= 10 ms: MISSED (12.0)" in lines
    assert "queue types: stock classic, dramatiq classic, switchyard quorum" in lines


def test_configurations_take_turns_and_the_order_rotates() -> None:
    suite = _suite()
    orders = [[c.name for c in rotation(suite, attempt)] for attempt in range(4)]
    assert orders == [
        ["stock", "dramatiq", "switchyard"],
        ["dramatiq", "switchyard", "stock"],
        ["switchyard", "stock", "dramatiq"],
        ["stock", "dramatiq", "switchyard"],
    ]
    # 3 drains + 2 round trips (Dramatiq runs none) per repetition
    assert steps(suite, 2) == 10
