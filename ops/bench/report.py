"""The comparison table, and the same as JSON: medians, ratios, floors, targets met or missed.

The last configuration is the subject (Switchyard): its ratio to every other configuration
is reported, as "times better" (its rate over the peer's; for a latency or a size, the
peer's value over its own), so above 1 always means Switchyard does better.
"""

from __future__ import annotations

import os
import platform
import statistics
from typing import Any

from ops.bench.model import Figure, Target
from ops.bench.runner import Outcome

MISSING = "-"


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
    names = [c.name for c in suite.configurations]
    baseline, subject = names[0], names[-1]
    reference = _reference(outcome)
    floors = {figure.key: physical.key for figure, physical in suite.beside}
    figures, targets = [], []
    for workload in suite.workloads:
        for figure in workload.all_figures:
            medians = {n: outcome.median(n, figure.key) for n in names}
            entry: dict[str, Any] = {
                "figure": figure.key,
                "label": figure.label,
                "unit": figure.unit,
                "better": figure.better,
                "median": medians,
                "runs": {n: outcome.runs.get(n, {}).get(figure.key, []) for n in names},
            }
            mine = medians[subject]
            for peer in names[:-1]:
                theirs = medians[peer]
                if mine is not None and theirs is not None:
                    entry.setdefault("ratio_to_" + peer, {})[subject] = figure.ratio(mine, theirs)
            if figure.key in floors and floors[figure.key] in reference:
                entry["floor"] = reference[floors[figure.key]]["median"]
            if figure.target is not None:  # against the baseline, for every other one
                entry["target"] = figure.target_text
                entry["target_met"] = {
                    n: figure.target(v, medians[baseline])  # type: ignore[arg-type]
                    for n, v in medians.items()
                    if n != baseline and v is not None and medians[baseline] is not None
                }
            figures.append(entry)
            targets += [
                _judge(figure, target, subject, medians, reference) for target in figure.targets
            ]
    last = subject
    fractions = {
        f"{figure.key}/{physical.key}": mine / reference[physical.key]["median"]
        for figure, physical in suite.fractions
        if physical.key in reference and (mine := outcome.median(last, figure.key)) is not None
    }
    return {
        "suite": suite.name,
        "repetitions": outcome.repeat,
        "baseline": baseline,
        "subject": subject,
        "configurations": {c.name: c.description for c in suite.configurations},
        "queue_types": {c.name: c.queue_type for c in suite.configurations if c.queue_type},
        "machine": machine(),
        "figures": figures,
        "targets": targets,
        "reference": reference,
        "fractions_of_reference": {last: fractions} if fractions else {},
        "notes": suite.notes,
    }


def _reference(outcome: Outcome) -> dict[str, dict[str, Any]]:
    return {
        figure.key: {
            "label": figure.label,
            "unit": figure.unit,
            "median": statistics.median(outcome.reference[figure.key]),
            "runs": outcome.reference[figure.key],
        }
        for figure in outcome.suite.reference
        if outcome.reference.get(figure.key)
    }


def _judge(
    figure: Figure,
    target: Target,
    subject: str,
    medians: dict[str, float | None],
    reference: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """One target on the subject's median: met, missed, or None when a figure is missing."""
    value = medians[subject]
    against: float | None = None
    if target.against in medians:
        against = medians[target.against]
    elif target.against in reference:
        against = reference[target.against]["median"]
    known = value is not None and (target.against is None or against is not None)
    return {
        "figure": figure.key,
        "label": figure.label,
        "target": target.text,
        "value": value,
        "against": target.against,
        "against_value": against,
        "met": target.check(value, against) if known and value is not None else None,
    }


def table(outcome: Outcome) -> list[str]:
    """One line per figure (medians, the subject's ratios, the floor), then the targets."""
    data = as_dict(outcome)
    names = list(data["configurations"])
    subject = data["subject"]
    peers = names[:-1]
    with_floor = any("floor" in entry for entry in data["figures"])
    header = ["figure", *names, *(f"{subject}/{p}" for p in peers)]
    header += ["floor"] if with_floor else []
    legacy = any("target" in entry for entry in data["figures"])
    header += ["target"] if legacy else []
    rows = [header]
    for entry in data["figures"]:
        row = [f"{entry['label']} ({entry['unit']})"]
        row += [_number(entry["median"][n]) for n in names]
        row += [_ratio(entry.get("ratio_to_" + p, {}).get(subject)) for p in peers]
        row += [_number(entry.get("floor"))] if with_floor else []
        if legacy:
            met = entry.get("target_met", {})
            row.append(
                f"{entry['target']}: "
                + ", ".join("met" if met[n] else "missed" for n in names[1:] if n in met)
                if "target" in entry
                else ""
            )
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.append(
        f"{subject}/<peer>: times better than the peer (rates: {subject}'s over the peer's; "
        f"ms and MiB: the peer's over {subject}'s)"
    )
    lines += _target_lines(data)
    lines += _reference_lines(data)
    if data["queue_types"]:
        lines.append(
            "queue types: " + ", ".join(f"{n} {t}" for n, t in data["queue_types"].items())
        )
    lines += [f"note: {note}" for note in data["notes"]]
    info = data["machine"]
    lines.append(
        f"median of {data['repetitions']} runs; {info['cpus']} CPUs, load average "
        f"{info['load_average_1m']} (1 min) / {info['load_average_5m']} (5 min); "
        f"{info['platform']}"
    )
    return lines


def _target_lines(data: dict[str, Any]) -> list[str]:
    if not data["targets"]:
        return []
    lines = [f"targets ({data['subject']}, medians of this run):"]
    for target in data["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        shown = f"{_number(target['value'])}"
        if target["against_value"] is not None:
            shown += f" against {_number(target['against_value'])}"
        lines.append(f"  {target['label']} {target['target']}: {verdict} ({shown})")
    return lines


def _ratio(times_better: float | None) -> str:
    if times_better is None:
        return MISSING
    return f"{times_better:.2f}x"


def _number(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"


def _reference_lines(data: dict[str, Any]) -> list[str]:
    """The broker's raw rates and the floors, and the subject's rates as a share of them."""
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
