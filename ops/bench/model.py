"""What a benchmark is made of: configurations to compare, workloads, and their figures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from celery import Celery, Signature
from celery.result import AsyncResult

Better = Literal["higher", "lower"]
Progress = Callable[[str], None]
SendMany = Callable[[Celery, list[Signature[Any]]], list[AsyncResult[Any]]]


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
    """A way to run the deployment, as the environment of its workers and its client.

    Parameters:
        app_factory / worker_argv / queues: a configuration that is not Switchyard's own
            (the stock baseline) brings its app, its worker command line and the queues
            that worker consumes; None means the suite's pool of this project.
        send_many: how this configuration's producer sends a batch of tasks.
    """

    name: str
    environment: dict[str, str]
    description: str = ""
    app_factory: Callable[[], Celery] | None = None
    worker_argv: tuple[str, ...] | None = None
    queues: tuple[str, ...] | None = None
    send_many: SendMany | None = None


@dataclass(frozen=True)
class Workload:
    """One measurement: `run` sends work through `app` and returns figures by key.

    Parameters:
        with_workers: False for a workload that must run while no worker consumes
            (a publish rate); it runs before the workers start.
        memory: a figure the runner fills with the workers' peak memory during each run.
    """

    name: str
    figures: tuple[Figure, ...]
    run: Callable[[Celery, Progress, Configuration], dict[str, float]]
    with_workers: bool = True
    memory: Figure | None = None

    @property
    def all_figures(self) -> tuple[Figure, ...]:
        return (*self.figures, *((self.memory,) if self.memory else ()))


@dataclass(frozen=True)
class Suite:
    """Workloads compared across configurations; the first configuration is the baseline.

    Parameters:
        reference: figures `measure_reference` returns, once per repetition, outside
            every configuration (the broker's raw rates); `fractions` pairs a workload
            figure with the reference figure it is shown as a fraction of, for the last
            configuration.
    """

    name: str
    configurations: tuple[Configuration, ...]
    workloads: Sequence[Workload]
    pool: str = "default"
    notes: list[str] = field(default_factory=list)
    reference: tuple[Figure, ...] = ()
    measure_reference: Callable[[Progress], dict[str, float]] | None = None
    fractions: tuple[tuple[Figure, Figure], ...] = ()
