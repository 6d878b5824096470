"""The base class of every task (`task_cls` of the app): what each of its parts adds.

- publish checks in `apply_async` (`routing.checked_task`): bad priority, unroutable
  destination or oversized arguments fail in the caller;
- through the task's public `Strategy` hook (`execution.strategy`): a shared rate limit when
  the task declares one (`execution.shared_rate_limit`), and acks written in batches in an
  inline pool (`execution.ack_batch`);
- a slot for the producing side's faster sender (`execution.fast_send`), offered each call
  after the publish checks passed;
- requests that dead-letter with a reason and bound redelivery (`deadletter.request`).
"""

from __future__ import annotations

from deadletter.request import DeadLetteringTask
from execution.fast_send import FastSendTask
from execution.shared_rate_limit import RateLimitKey
from routing.checked_task import PublishCheckedTask


class SwitchyardTask(PublishCheckedTask, FastSendTask, DeadLetteringTask):
    """Declare a shared limit with `@app.task(shared_rate_limit="10/m")`; see
    `execution.shared_rate_limit` for `rate_limit_burst` and `rate_limit_key`."""

    abstract = True
    Strategy = "execution.strategy:worker_strategy"
    shared_rate_limit: str | None = None
    rate_limit_burst: int = 1
    rate_limit_key: RateLimitKey | None = None
