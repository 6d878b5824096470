"""What every RabbitMQ node Switchyard runs is configured with, beside its ports and users.

The local stack writes these lines into each node's rabbitmq.conf and the chart's
RabbitmqCluster carries them (through `helm/switchyard/files/topology.json`), so a local
cluster handles a partition as production does.
"""

from __future__ import annotations

# A node that sees only a minority of the cluster pauses (closes its listeners) until the
# partition heals: no two sides accept writes, and clients move to a node of the majority.
# Quorum queues need a majority anyway; this extends it to classic queues and the schema.
CLUSTER_PARTITION_HANDLING = "pause_minority"


def cluster_config_lines() -> list[str]:
    """rabbitmq.conf lines that every node, local or in the chart, gets."""
    return [f"cluster_partition_handling = {CLUSTER_PARTITION_HANDLING}"]
