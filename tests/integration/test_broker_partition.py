"""`switchyard chaos --scenario broker-partition` at a small size, run as an operator runs it.

The command makes three namespaced hosts and a cluster on them, cuts node 3 off from its
peers for three net ticks while 300 tasks flow, heals, and prints the suite's table; it then
removes the hosts. A separate process, as the publisher's Celery app reads its broker once.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from ops.chaos.partition import CUT_HOST
from ops.stack.manager import Stack
from ops.stack.namespaced_cluster import NamespacedCluster
from ops.stack.netns import NETNS_DIR, namespaces_unavailable

REASON = namespaces_unavailable()
pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON or "namespaces available")
TASKS = 300
CHAOS = [sys.executable, "-m", "ops.cli", "chaos", "--scenario", "broker-partition"]
SUMMARY = re.compile(
    r"(\d+) faults, (\d+) confirmed tasks: lost (\d+), applied twice (\d+), "
    r"re-runs (\d+) \(bound (\d+)\), groups stuck (\d+), guard on"
)


@pytest.mark.timeout(420)  # 1.5-2.5 min on 2 shared cores: a cluster to form, one long cut
def test_a_partitioned_node_pauses_and_nothing_is_lost(stack: Stack) -> None:
    cluster = NamespacedCluster.for_stack(stack)
    try:
        done = subprocess.run(
            [*CHAOS, "--tasks", str(TASKS), "--faults", "1", "--publish-seconds", "10"],
            capture_output=True,
            text=True,
            timeout=360,
            check=False,
        )
    finally:
        hosts_left = cluster.network.exists()
        cluster.down()  # after a timeout, the killed command could not remove them
    assert done.returncode == 0, done.stdout + done.stderr
    match = SUMMARY.search(done.stdout)
    assert match, done.stdout
    faults, confirmed, lost, twice, reruns, bound, stuck = map(int, match.groups())
    assert (faults, confirmed, lost, twice, stuck) == (1, TASKS, 0, 0, 0), done.stdout
    assert reruns <= bound, done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("broker-partition"))
    # pause_minority, as a client sees it: the cut node closed its connection and then
    # refused new ones, while nodes 1 and 2 refused none and saw two running nodes.
    assert "its client closed by the broker, 320 CONNECTION_FORCED" in row, row
    assert re.search(r"cut node refused connections \d+\.\ds after the cut", row), row
    assert "node 1 saw 2 of 3 running, nodes 1-2 refused 0 connects" in row, row
    assert not hosts_left, "the hosts outlived the command"
    assert not (NETNS_DIR / cluster.network.host(CUT_HOST).namespace).exists()
