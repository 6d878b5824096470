"""The fault suite at CI size: every confirmed task is applied once or dead-lettered.

`make chaos` runs the same scenarios with thousands of tasks and many faults each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from config.settings import ENV_PREFIX, Settings
from ops.chaos import ledger
from ops.chaos.faults import HEARTBEAT_DETECTION_LIMIT_S, SCENARIOS, Scenario
from ops.chaos.suite import POOL, ChaosSuite, stuck_groups
from ops.stack.manager import Stack

ACK_BATCH_DELAY_ENV = f"{ENV_PREFIX}ACK_BATCH_DELAY_MS"
SLOW = {"broker-restart", "connection-blackhole"}  # each fault costs 15-25 s


# The cluster's own faults run on a three-node cluster in test_broker_cluster.py; on this
# single node they would only repeat broker-restart.
SINGLE_NODE = tuple(s for s in SCENARIOS if not s.needs_cluster)


@pytest.mark.parametrize("scenario", SINGLE_NODE, ids=[s.name for s in SINGLE_NODE])
def test_no_task_is_lost_or_applied_twice(
    scenario: Scenario, stack: Stack, settings: Settings, broker: Connection, tmp_path: Path
) -> None:
    ledger.migrate(settings.migration_database_url)
    suite = ChaosSuite(stack, settings, tmp_path / "logs", groups=2)
    faults = 1 if scenario.name in SLOW else 2
    outcome = suite.run(scenario, tasks=200, faults=faults, publish_s=4.0)
    assert outcome.faults == faults
    assert outcome.confirmed + outcome.refused == outcome.published == 200
    assert outcome.lost == 0, outcome
    assert outcome.applied_twice == 0, outcome
    assert outcome.reruns <= outcome.rerun_bound, outcome
    assert outcome.applied + outcome.dead_lettered == outcome.confirmed
    if scenario.name == "connection-blackhole":
        took = [float(n.split()[1].rstrip("s")) for n in outcome.notes if "blackhole" in n]
        assert took
        assert all(t <= HEARTBEAT_DETECTION_LIMIT_S for t in took), outcome.notes


def test_without_the_guard_the_ledger_sees_effects_applied_twice(
    stack: Stack, settings: Settings, broker: Connection, tmp_path: Path
) -> None:
    """The "applied twice" check can fail: with the guard off, the re-runs that SIGKILL causes
    apply their effect a second time, and the ledger counts those keys.

    The workers hold their acknowledgements (a batch delay out of reach), so every kill
    finds tasks that ran but were not acknowledged: re-runs happen on every run, not only
    when a kill happens to land between a commit and its acknowledgement."""
    ledger.migrate(settings.migration_database_url)
    sigkill = next(s for s in SCENARIOS if s.name == "sigkill-mid-task")
    suite = ChaosSuite(
        stack,
        settings,
        tmp_path / "logs",
        groups=2,
        guard=False,
        group_env=lambda _: {ACK_BATCH_DELAY_ENV: "600000"},
    )
    outcome = suite.run(sigkill, tasks=400, faults=3, publish_s=4.0)
    assert outcome.lost == 0, outcome
    assert outcome.reruns > 0, outcome
    assert outcome.applied_twice == outcome.reruns, outcome


def test_the_stuck_check_counts_groups_that_do_not_consume(settings: Settings, amqp: Any) -> None:
    """The "stuck" column can be non-zero: with no worker consuming the pool's queue, both
    groups the check expects are counted as stuck."""
    assert amqp.queue_declare(queue=POOL, passive=True).method.consumer_count == 0
    notes: list[str] = []
    assert stuck_groups([settings.broker_url], 2, notes, timeout=1) == 2
    assert notes == ["0 of 2 groups consuming 1s after the faults"]
