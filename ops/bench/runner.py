"""Run every workload of a suite under every configuration; keep each repetition's figures.

Within a repetition the configurations take turns (each starts its workers, runs every
workload once, stops them), and the order rotates between repetitions: a machine whose load
drifts during the run then weighs on every peer alike, and the medians compare like with like.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ops.bench.clients import CeleryClient
from ops.bench.memory import PeakMemory
from ops.bench.model import Client, Configuration, Suite, Workload
from ops.bench.workers import client_app, running_workers
from ops.broker import connection
from ops.progress import ProgressDisplay
from routing.declaration import TOPOLOGY


@dataclass
class Outcome:
    """Figures by configuration, then by figure key: one value per repetition.

    `reference` holds figures measured once per repetition, outside any configuration (the
    broker's raw rates, the floors), shown beside the comparison rather than in it.
    """

    suite: Suite
    repeat: int
    runs: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    reference: dict[str, list[float]] = field(default_factory=dict)

    def record(self, configuration: str, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            self.runs.setdefault(configuration, {}).setdefault(key, []).append(value)

    def median(self, configuration: str, key: str) -> float | None:
        """The median of a figure, None for a figure the configuration did not run."""
        values = self.runs.get(configuration, {}).get(key)
        return statistics.median(values) if values else None

    def record_reference(self, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            self.reference.setdefault(key, []).append(value)


def rotation(suite: Suite, attempt: int) -> list[Configuration]:
    """The configurations in the order of repetition `attempt` (0-based)."""
    configurations = list(suite.configurations)
    shift = attempt % len(configurations)
    return configurations[shift:] + configurations[:shift]


def steps(suite: Suite, repeat: int) -> int:
    """How many workload runs (and reference measurements) a run of the suite makes."""
    per_repeat = sum(1 for c in suite.configurations for w in suite.workloads if w.applies(c)) + (
        suite.measure_reference is not None
    )
    return per_repeat * repeat


def run_suite(suite: Suite, repeat: int, display: ProgressDisplay) -> Outcome:
    outcome = Outcome(suite, repeat)
    try:
        for attempt in range(repeat):
            if suite.measure_reference is not None:
                display.step(f"[reference] {attempt + 1}/{repeat}")
                outcome.record_reference(suite.measure_reference(display))
                display.advance()
            for configuration in rotation(suite, attempt):
                _run_configuration(
                    suite, configuration, f"{attempt + 1}/{repeat}", outcome, display
                )
    finally:
        remove_peer_entities(suite.configurations)
    return outcome


def peer_entities(configurations: tuple[Configuration, ...]) -> tuple[list[str], list[str]]:
    """The queues and exchanges the peers' own code declared on the broker: each queue a
    peer consumes, Dramatiq's `.DQ`/`.XQ` companions, and an exchange named as the queue
    (stock Celery's default queue comes with one). Never a queue the declaration owns."""
    declared = {spec.name for spec in TOPOLOGY.queues}
    queues = [q for c in configurations for q in (c.queues or ()) if q not in declared]
    return [n for q in queues for n in (q, f"{q}.DQ", f"{q}.XQ")], queues


def remove_peer_entities(configurations: tuple[Configuration, ...]) -> None:
    """Leave the broker as the declaration describes it, so `topology diff` stays quiet after
    a benchmark (deleting what does not exist is a no-op for RabbitMQ)."""
    queues, exchanges = peer_entities(configurations)
    if not queues:
        return
    with connection() as conn:
        channel: Any = conn.channel()
        for name in queues:
            channel.queue_delete(name)
        for name in exchanges:
            channel.exchange_delete(name)


def _run_configuration(
    suite: Suite, configuration: Configuration, attempt: str, outcome: Outcome, display: Any
) -> None:
    """The idle workloads, then the drains (each starts the workers), then the rest with
    the workers running."""
    client = make_client(configuration, suite.pool)
    chosen = [w for w in suite.workloads if w.applies(configuration)]
    try:
        for stage in ("idle", "drain"):
            for workload in (w for w in chosen if w.stage == stage):
                _run(workload, client, configuration, attempt, outcome, display, None)
        running = [w for w in chosen if w.stage == "running"]
        if not running:
            return
        display.step(f"[{configuration.name}] starting its workers")
        with client.start_workers(False) as pids, PeakMemory(pids) as memory:
            for workload in running:
                _run(workload, client, configuration, attempt, outcome, display, memory)
    finally:
        client.close()


def make_client(configuration: Configuration, pool: str) -> Client:
    @contextmanager
    def start_workers(backlog: bool) -> Iterator[list[int]]:
        with running_workers(configuration, pool, backlog) as supervisor:
            yield [p.popen.pid for p in supervisor.processes]

    if configuration.client_factory is not None:
        return configuration.client_factory(start_workers)
    return CeleryClient(client_app(configuration), configuration, start_workers)


def _run(  # noqa: PLR0917 - one private call site
    workload: Workload,
    client: Client,
    configuration: Configuration,
    attempt: str,
    outcome: Outcome,
    display: Any,
    memory: PeakMemory | None,
) -> None:
    display.step(f"[{configuration.name}] {workload.name} {attempt}")
    if memory is not None:
        memory.reset()
    figures = workload.run(client, display, configuration)
    if memory is not None and workload.memory is not None:
        figures[workload.memory.key] = memory.peak_mib
    outcome.record(configuration.name, figures)
    display(
        ", ".join(
            f"{figure.key} {figures[figure.key]:,.1f} {figure.unit}"
            for figure in workload.all_figures
            if figure.key in figures
        )
    )
    display.advance()
