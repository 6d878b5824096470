"""What a benchmark is made of: peers to compare, workloads, their figures and targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from celery import Celery, Signature
from celery.result import AsyncResult

if TYPE_CHECKING:
    from kombu import Connection

Better = Literal["higher", "lower"]
Stage = Literal["idle", "drain", "running"]
Progress = Callable[[str], None]
SendMany = Callable[[Celery, list[Signature[Any]]], list[AsyncResult[Any]]]
# A peer's worker group as a context manager yielding its root pids; True: a backlog waits.
StartWorkers = Callable[[bool], AbstractContextManager[list[int]]]


@dataclass(frozen=True)
class Target:
    """A goal for one figure, checked on medians of the same invocation.

    Parameters:
        against: what the value is compared with: a configuration's name (its median of the
            same figure), a reference figure's key (a floor measured raw in the same run), or
            None for an absolute goal (then `check` gets None as its second argument).
    """

    text: str
    check: Callable[[float, float | None], bool]
    against: str | None = None


@dataclass(frozen=True)
class Figure:
    """A number a workload reports, and what counts as good for it.

    Parameters:
        target: a goal against the suite's baseline (first configuration), as a predicate on
            (this configuration's value, the baseline's value), with `target_text` in words.
        targets: goals for the suite's subject (last configuration) against named peers,
            floors or absolute values; see `Target`.
    """

    key: str
    label: str
    unit: str
    better: Better
    target_text: str = ""
    target: Callable[[float, float], bool] | None = None
    targets: tuple[Target, ...] = ()

    def ratio(self, value: float, baseline: float) -> float:
        """How many times better than the baseline (above 1 is better)."""
        if self.better == "higher":
            return value / baseline if baseline else float("inf")
        return baseline / value if value else float("inf")


def at_least(times: float, peer: str) -> Target:
    """`>= times x peer` on a higher-is-better figure."""
    return Target(f">= {times:g}x {peer}", lambda v, p: p is not None and v >= times * p, peer)


def within(times: float, floor: str, label: str) -> Target:
    """`<= times x floor` on a lower-is-better figure measured against a raw floor."""
    return Target(f"<= {times:g}x {label}", lambda v, f: f is not None and v <= times * f, floor)


def at_most(limit: float, unit: str) -> Target:
    return Target(f"<= {limit:g} {unit}", lambda v, _: v <= limit)


class Client(Protocol):
    """How a workload reaches one peer, whatever its library: send, mark the end, purge.

    `queue` is the queue its no-ops go to; `start_workers(backlog)` is the peer's worker
    group as a context manager (its root pids), `backlog` True when messages wait on purpose.
    """

    queue: str
    start_workers: StartWorkers

    def send_noops(self, count: int, store_results: bool) -> list[Any]: ...

    def send_marker(self, path: str) -> None: ...

    def purge(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Configuration:
    """A way to run a peer, as the environment of its workers and its client.

    Parameters:
        app_factory: the app its producer sends with (stock Celery's own app; Switchyard's
            `config.app`); None: an app built from the settings and `environment`.
        worker_argv / queues: a configuration that is not Switchyard's own (stock Celery,
            Dramatiq) brings its worker command line and the queues that worker consumes;
            None means the suite's pool of this project.
        send_many: how this configuration's producer sends a batch of tasks (Celery peers).
        fast_apply: its producer's `apply_async` takes Switchyard's fast path
            (`producer.fast_apply`), as a Switchyard producer process installs it.
        kind: the peer's library; a workload runs only on the kinds it applies to.
        client_factory: builds the `Client` of a peer other than Celery.
        declare: declares the peer's queues as the peer itself would, before its workers
            start; None declares `queues` as Celery declares its default queue.
        consumers: consumers per queue once the workers are ready; None: one per process.
        queue_type: the type of queue its tasks wait in, for the fairness note.
        replicas: worker processes of the suite's pool; None: the pool's declared count.
    """

    name: str
    environment: dict[str, str]
    description: str = ""
    app_factory: Callable[[], Celery] | None = None
    worker_argv: tuple[str, ...] | None = None
    queues: tuple[str, ...] | None = None
    send_many: SendMany | None = None
    fast_apply: bool = False
    kind: Literal["celery", "dramatiq"] = "celery"
    client_factory: Callable[[StartWorkers], Client] | None = None
    declare: Callable[[Connection], None] | None = None
    consumers: int | None = None
    queue_type: str = ""
    replicas: int | None = None


@dataclass(frozen=True)
class Workload:
    """One measurement: `run` sends work through the peer's client; figures by key.

    Parameters:
        stage: "idle" runs while no worker consumes (a publish rate), before the workers
            start; "drain" starts the workers itself, after queueing its backlog; "running"
            runs with the configuration's workers up.
        memory: a figure the runner fills with the workers' peak memory during each run.
        applies: which configurations run it (a round trip needs a result backend).
    """

    name: str
    figures: tuple[Figure, ...]
    run: Callable[[Any, Progress, Configuration], dict[str, float]]
    stage: Stage = "running"
    memory: Figure | None = None
    applies: Callable[[Configuration], bool] = lambda _: True

    @property
    def all_figures(self) -> tuple[Figure, ...]:
        return (*self.figures, *((self.memory,) if self.memory else ()))


@dataclass(frozen=True)
class Suite:
    """Workloads compared across configurations; the first configuration is the baseline
    and the last the subject (Switchyard), whose ratio to every other one is reported.

    Parameters:
        reference: figures `measure_reference` returns, once per repetition, outside
            every configuration (the broker's raw rates, the floors); `fractions` pairs a
            workload figure with the reference figure it is shown as a fraction of, for the
            last configuration; `beside` pairs a workload figure with the floor printed on
            its row.
    """

    name: str
    configurations: tuple[Configuration, ...]
    workloads: Sequence[Workload]
    pool: str = "default"
    notes: list[str] = field(default_factory=list)
    reference: tuple[Figure, ...] = ()
    measure_reference: Callable[[Progress], dict[str, float]] | None = None
    fractions: tuple[tuple[Figure, Figure], ...] = ()
    beside: tuple[tuple[Figure, Figure], ...] = ()
