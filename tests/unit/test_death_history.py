"""A dead letter's history is counted across replays, whoever dead-lettered it."""

from __future__ import annotations

from deadletter import headers
from deadletter.history import carried_headers, history


def test_a_worker_dead_letter_counts_one_death_with_its_reason() -> None:
    past = history({headers.REASON: "no task", headers.SOURCE_QUEUE: "webhooks"}, "x.dlq")
    assert (past.deaths, past.reasons, past.source_queue, past.replays) == (
        1,
        ("no task",),
        "webhooks",
        0,
    )


def test_the_brokers_x_death_counts_are_added_up() -> None:
    x_death = [{"count": 2, "reason": "rejected", "queue": "analytics"}, {"count": 1}]
    past = history({"x-death": x_death}, "analytics.dlq")
    assert (past.deaths, past.reason, past.source_queue) == (3, "broker: rejected", "analytics")


def test_a_replayed_copy_carries_its_history_and_the_next_death_adds_to_it() -> None:
    first = {headers.REASON: "boom", headers.SOURCE_QUEUE: "default", "task": "t.a", "id": "1"}
    copy = carried_headers(first, history(first, "default.dlq"))
    assert copy == {
        "task": "t.a",
        "id": "1",
        headers.DEATHS: 1,
        headers.DEATH_REASONS: ["boom"],
    }
    # The copy fails again; the broker dead-letters it this time.
    again = {**copy, "x-death": [{"count": 1, "reason": "rejected", "queue": "default"}]}
    past = history(again, "default.dlq")
    assert past.deaths == 2
    assert past.reasons == ("boom", "broker: rejected")


def test_the_queue_names_the_source_when_the_headers_do_not() -> None:
    assert history({}, "maintenance.parked").source_queue == "maintenance"
    assert history({}, "unroutable").source_queue == ""
