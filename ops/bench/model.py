"""What a benchmark is made of: configurations to compare, workloads, and their figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from celery import Celery

Better = Literal["higher", "lower"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Figure:
    """A number a workload reports, and what counts as good for it.

    Parameters:
        target: the goal, as a predicate on (this configuration's value, the baseline's
            value), with `target_text` saying it in words; None when there is none.
    """

    key: str
    label: str
    unit: str
    better: Better
    target_text: str = ""
    target: Callable[[float, float], bool] | None = None

    def ratio(self, value: float, baseline: float) -> float:
        """How many times better than the baseline (above 1 is better)."""
        if self.better == "higher":
            return value / baseline if baseline else float("inf")
        return baseline / value if value else float("inf")


@dataclass(frozen=True)
class Configuration:
    """A way to run the deployment, as the environment of its workers and its client."""

    name: str
    environment: dict[str, str]
    description: str = ""


@dataclass(frozen=True)
class Workload:
    """One measurement: `run` sends work through `app` and returns figures by key."""

    name: str
    figures: tuple[Figure, ...]
    run: Callable[[Celery, Progress], dict[str, float]]


@dataclass(frozen=True)
class Suite:
    """Workloads compared across configurations; the first configuration is the baseline."""

    name: str
    configurations: tuple[Configuration, ...]
    workloads: Sequence[Workload]
    pool: str = "default"
    notes: list[str] = field(default_factory=list)
