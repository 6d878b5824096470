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
