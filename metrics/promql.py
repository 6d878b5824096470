"""The PromQL queries users run, built from the metric definitions.

The dashboard, the alert rules and the docs cookbook all take their queries from here, so
a renamed metric or label changes every one of them at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from metrics import definitions as d


def selector(**labels: str) -> str:
    """`{label="value",...}`; a value holding `|` becomes a regex match."""
    if not labels:
        return ""
    parts = [
        f'{name}=~"{value}"' if "|" in value else f'{name}="{value}"'
        for name, value in labels.items()
    ]
    return "{" + ",".join(parts) + "}"


def queues_regex(queues: Sequence[str]) -> str:
    """A label value matching exactly these queues (a single name stays an exact match)."""
    return "|".join(queues)


def finished(**labels: str) -> str:
    """Succeeded and failed executions in one selector, so a side with no series yet
    (a task that never failed) does not empty the sum."""
    names = queues_regex([d.TASK_SUCCEEDED.name, d.TASK_FAILED.name])
    return selector(__name__=names, **labels)


def throughput(by: str, window: str = "5m", **labels: str) -> str:
    """Task executions finished per second (succeeded + failed)."""
    return f"sum by ({by}) (rate({finished(**labels)}[{window}]))"


def rate_of(spec: d.MetricSpec, by: str, window: str = "5m", **labels: str) -> str:
    return f"sum by ({by}) (rate({spec.name}{selector(**labels)}[{window}]))"


def quantile(spec: d.MetricSpec, q: float, by: str, window: str = "5m", **labels: str) -> str:
    """A quantile of a histogram over `window`, per `by`."""
    sel = selector(**labels)
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({spec.name}_bucket{sel}[{window}])))"


def backlog(**labels: str) -> str:
    """Messages waiting or in progress per queue: ready plus unacknowledged."""
    sel = selector(**labels)
    return (
        f"sum by ({d.QUEUE}) ({d.QUEUE_READY.name}{sel})"
        f" + sum by ({d.QUEUE}) ({d.QUEUE_UNACKED.name}{sel})"
    )


def failure_ratio(by: str, window: str = "10m", **labels: str) -> str:
    """Failed / (failed + succeeded) per `by`; a task that only fails has ratio 1."""
    failed = f"sum by ({by}) (rate({d.TASK_FAILED.name}{selector(**labels)}[{window}]))"
    return f"{failed} / {throughput(by, window, **labels)}"


def cookbook() -> list[tuple[str, str]]:
    """The queries docs/metrics.md lists, as (what it answers, PromQL)."""
    task_queue = f"{d.TASK}, {d.QUEUE}"
    return [
        ("Throughput per queue (tasks finished per second)", throughput(d.QUEUE)),
        ("Tasks sent per second per queue (producers)", rate_of(d.TASK_SENT, d.QUEUE)),
        ("p95 runtime per task (seconds)", quantile(d.TASK_RUNTIME, 0.95, d.TASK)),
        ("Backlog per queue (ready + unacknowledged)", backlog()),
        ("p95 queue wait per queue (publish to start, seconds)",
         quantile(d.TASK_QUEUE_WAIT, 0.95, d.QUEUE)),
        ("Failure ratio per task", failure_ratio(task_queue)),
        ("Retries per second per task", rate_of(d.TASK_RETRIED, task_queue)),
        ("Dead-lettered messages per work queue", f"{d.DEAD_LETTERED.name} > 0"),
        ("Queues nobody consumes", f"{d.QUEUE_CONSUMERS.name} == 0"),
    ]  # fmt: skip
