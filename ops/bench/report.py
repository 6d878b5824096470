"""The comparison table, and the same as JSON: medians, ratios to the baseline, targets."""

from __future__ import annotations

import os
import platform
import statistics
from typing import Any

from ops.bench.runner import Outcome


def machine() -> dict[str, Any]:
    """Where the figures were measured; a shared machine's load is part of the story."""
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(load1, 2),
        "load_average_5m": round(load5, 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def as_dict(outcome: Outcome) -> dict[str, Any]:
    suite = outcome.suite
    baseline = suite.configurations[0].name
    figures = []
    for workload in suite.workloads:
        for figure in workload.all_figures:
            medians = {c.name: outcome.median(c.name, figure.key) for c in suite.configurations}
            entry: dict[str, Any] = {
                "figure": figure.key,
                "label": figure.label,
                "unit": figure.unit,
                "better": figure.better,
                "median": medians,
                "runs": {c.name: outcome.runs[c.name][figure.key] for c in suite.configurations},
                "ratio_to_" + baseline: {
                    name: figure.ratio(value, medians[baseline])
                    for name, value in medians.items()
                    if name != baseline
                },
            }
            if figure.target is not None:
                entry["target"] = figure.target_text
                entry["target_met"] = {
                    name: figure.target(value, medians[baseline])
                    for name, value in medians.items()
                    if name != baseline
                }
            figures.append(entry)
    reference: dict[str, dict[str, Any]] = {
        figure.key: {
            "label": figure.label,
            "unit": figure.unit,
            "median": statistics.median(outcome.reference[figure.key]),
            "runs": outcome.reference[figure.key],
        }
        for figure in suite.reference
        if outcome.reference.get(figure.key)
    }
    last = suite.configurations[-1].name
    fractions = {
        f"{figure.key}/{physical.key}": outcome.median(last, figure.key)
        / reference[physical.key]["median"]
        for figure, physical in suite.fractions
        if physical.key in reference
    }
    return {
        "suite": suite.name,
        "repetitions": outcome.repeat,
        "baseline": baseline,
        "configurations": {c.name: c.description for c in suite.configurations},
        "machine": machine(),
        "figures": figures,
        "reference": reference,
        "fractions_of_reference": {last: fractions} if fractions else {},
    }


def table(outcome: Outcome) -> list[str]:
    """One line per figure: the median per configuration, the ratio, the target."""
    data = as_dict(outcome)
    baseline = data["baseline"]
    names = list(data["configurations"])
    others = [n for n in names if n != baseline]
    header = ["figure", *names, *(f"{n} vs {baseline}" for n in others), "target"]
    rows = [header]
    for entry in data["figures"]:
        row = [f"{entry['label']} ({entry['unit']})"]
        row += [_number(entry["median"][n]) for n in names]
        row += [_ratio(entry["ratio_to_" + baseline][n]) for n in others]
        met = entry.get("target_met", {})
        row.append(
            f"{entry['target']}: " + ", ".join("met" if met[n] else "missed" for n in others)
            if "target" in entry
            else ""
        )
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines += _reference_lines(data)
    info = data["machine"]
    lines.append(
        f"median of {data['repetitions']} runs; {info['cpus']} CPUs, load average "
        f"{info['load_average_1m']} (1 min) / {info['load_average_5m']} (5 min); "
        f"{info['platform']}"
    )
    return lines


def _ratio(times_better: float) -> str:
    """`2.0x better`, or `1.8x worse` rather than `0.6x better`."""
    if times_better >= 1 or times_better <= 0:
        return f"{times_better:.1f}x better"
    return f"{1 / times_better:.1f}x worse"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def _reference_lines(data: dict[str, Any]) -> list[str]:
    """The broker's raw rates, and the last configuration's rates as a share of them."""
    if not data["reference"]:
        return []
    lines = ["physical reference (same broker, same run):"]
    lines += [
        f"  {entry['label']}: {_number(entry['median'])} {entry['unit']}"
        for entry in data["reference"].values()
    ]
    for name, fractions in data["fractions_of_reference"].items():
        for pair, value in fractions.items():
            figure, physical = pair.split("/")
            lines.append(f"  {name} {figure} = {value:.0%} of {physical}")
    return lines
