"""Run every workload of a suite under every configuration; keep each repetition's figures."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ops.bench.model import Progress, Suite
from ops.bench.workers import client_app, running_workers


@dataclass
class Outcome:
    """Figures by configuration, then by figure key: one value per repetition."""

    suite: Suite
    repeat: int
    runs: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def record(self, configuration: str, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            self.runs.setdefault(configuration, {}).setdefault(key, []).append(value)

    def median(self, configuration: str, key: str) -> float:
        return statistics.median(self.runs[configuration][key])


def run_suite(suite: Suite, repeat: int, progress: Progress) -> Outcome:
    """Each configuration in turn, with its own workers; `repeat` runs of each workload."""
    outcome = Outcome(suite, repeat)
    for configuration in suite.configurations:
        progress(f"[{configuration.name}] starting the {suite.pool!r} pool")
        with running_workers(configuration, suite.pool):
            app = client_app(configuration)
            try:
                for workload in suite.workloads:
                    for attempt in range(1, repeat + 1):
                        where = f"[{configuration.name}] {workload.name} {attempt}/{repeat}"

                        def report(message: str, where: str = where) -> None:
                            progress(f"{where}: {message}")

                        figures = workload.run(app, report)
                        outcome.record(configuration.name, figures)
                        shown = ", ".join(
                            f"{figure.key} {figures[figure.key]:,.1f} {figure.unit}"
                            for figure in workload.figures
                        )
                        progress(f"{where}: {shown}")
            finally:
                app.close()
    return outcome
