"""`switchyard run` starts each pool's replicas as separate, distinguishable processes."""

from __future__ import annotations

from ops.local_metrics import local_workers
from routing.declaration import TOPOLOGY
from routing.worker_command import worker_argv


def test_a_local_run_starts_every_replica_with_its_own_name_port_and_node() -> None:
    workers = local_workers(TOPOLOGY)
    assert len(workers) == sum(p.replicas for p in TOPOLOGY.pools)
    assert len({w.process for w in workers}) == len(workers)
    assert sorted(w.index for w in workers) == list(range(len(workers)))
    argvs = [worker_argv(w.pool, w.instance) for w in workers]
    nodes = {argv[argv.index("--hostname") + 1] for argv in argvs}
    assert len(nodes) == len(workers)


def test_replicas_of_one_pool_are_named_like_pods_and_take_their_own_ports() -> None:
    workers = local_workers(TOPOLOGY, "analytics", replicas=3)
    assert [w.process for w in workers] == [
        "worker-analytics",
        "worker-analytics-1",
        "worker-analytics-2",
    ]
    assert [w.index for w in workers] == [0, 1, 2]
    argvs = [worker_argv(w.pool, w.instance) for w in workers]
    assert [argv[argv.index("--hostname") + 1] for argv in argvs] == [
        "analytics@%h",
        "analytics@%h-1",
        "analytics@%h-2",
    ]
