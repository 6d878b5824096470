"""What a benchmark is made of: configurations to compare, workloads, and their figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

    key: str
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

    def only(self, keys: Sequence[str]) -> Suite:
        """This suite with just the workloads named (all when `keys` is empty)."""
        unknown = set(keys) - {w.key for w in self.workloads}
        if unknown:
            raise ValueError(f"unknown workload(s): {', '.join(sorted(unknown))}")
        kept = [w for w in self.workloads if not keys or w.key in keys]
        return Suite(self.name, self.configurations, kept, self.pool)
