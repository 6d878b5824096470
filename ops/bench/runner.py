"""Run every workload of a suite under every configuration; keep each repetition's figures."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from celery import Celery

from ops.bench.memory import PeakMemory
from ops.bench.model import Configuration, Progress, Suite, Workload
from ops.bench.workers import client_app, running_workers


@dataclass
class Outcome:
    """Figures by configuration, then by figure key: one value per repetition.

    `reference` holds figures measured once per run, outside any configuration (the
    broker's raw rates), shown beside the comparison rather than in it.
    """

    suite: Suite
    repeat: int
    runs: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    reference: dict[str, list[float]] = field(default_factory=dict)

    def record(self, configuration: str, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            self.runs.setdefault(configuration, {}).setdefault(key, []).append(value)

    def median(self, configuration: str, key: str) -> float:
        return statistics.median(self.runs[configuration][key])

    def record_reference(self, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            self.reference.setdefault(key, []).append(value)


def run_suite(suite: Suite, repeat: int, progress: Progress) -> Outcome:
    """Each configuration in turn: the workloads that need no workers first, then the rest
    with the configuration's own workers running; `repeat` runs of each workload."""
    outcome = Outcome(suite, repeat)
    if suite.measure_reference is not None:
        for attempt in range(1, repeat + 1):
            prefix = f"[reference] {attempt}/{repeat}: "

            def report(message: str, prefix: str = prefix) -> None:
                progress(prefix + message)

            outcome.record_reference(suite.measure_reference(report))
    for configuration in suite.configurations:
        app = client_app(configuration)
        try:
            before = [w for w in suite.workloads if not w.with_workers]
            for workload in before:
                _repeat(workload, app, configuration, repeat, outcome, progress, None)
            progress(f"[{configuration.name}] starting its workers")
            with running_workers(configuration, suite.pool) as workers:
                pids = [p.popen.pid for p in workers.processes]
                with PeakMemory(pids) as memory:
                    for workload in suite.workloads:
                        if workload.with_workers:
                            _repeat(workload, app, configuration, repeat, outcome, progress, memory)
        finally:
            app.close()
    return outcome


def _repeat(  # noqa: PLR0917 - one private call site
    workload: Workload,
    app: Celery,
    configuration: Configuration,
    repeat: int,
    outcome: Outcome,
    progress: Progress,
    memory: PeakMemory | None,
) -> None:
    for attempt in range(1, repeat + 1):
        where = f"[{configuration.name}] {workload.name} {attempt}/{repeat}"

        def report(message: str, where: str = where) -> None:
            progress(f"{where}: {message}")

        if memory is not None:
            memory.reset()
        figures = workload.run(app, report, configuration)
        if memory is not None and workload.memory is not None:
            figures[workload.memory.key] = memory.peak_mib
        outcome.record(configuration.name, figures)
        shown = ", ".join(
            f"{figure.key} {figures[figure.key]:,.1f} {figure.unit}"
            for figure in workload.all_figures
        )
        progress(f"{where}: {shown}")
