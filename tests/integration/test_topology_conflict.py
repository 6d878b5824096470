"""What the chart's hook Job shows when a queue exists with other arguments: one readable
line naming the queue, and a failing exit code that fails the release."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from kombu import Connection

from routing.declaration import TOPOLOGY
from routing.declare import declare_topology


def test_conflicting_queue_fails_declare_with_a_readable_message(broker: Connection) -> None:
    queue = TOPOLOGY.queues[-1]
    other_type = "classic" if queue.type == "quorum" else "quorum"
    channel: Any = broker.channel()
    try:
        channel.queue_delete(queue.name)
        channel.queue_declare(
            queue.name, durable=True, arguments={"x-queue-type": other_type}, auto_delete=False
        )
        result = subprocess.run(
            [sys.executable, "-m", "ops.cli", "topology", "declare"],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        channel.queue_delete(queue.name)
        channel.close()
        declare_topology(broker, TOPOLOGY)
    assert result.returncode == 1
    assert f"queue {queue.name!r} exists on the broker with other arguments" in result.stderr
    assert "Traceback" not in result.stderr
