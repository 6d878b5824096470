"""The metrics table and PromQL cookbook, rendered from the definitions.

`switchyard metrics reference` prints them; a test fails when docs/metrics.md holds another
text.
"""

from __future__ import annotations

from metrics import definitions as d
from metrics.promql import cookbook

_SOURCES = {
    "producer": "any process that sends tasks (workers and beat included)",
    "worker": "every worker pool's main process, for all of its processes",
    "exporter": "`switchyard exporter`, for every declared queue",
    "api": "`switchyard api`, the producer's HTTP service",
}


def metrics_table() -> str:
    lines = ["| metric | type | labels | meaning | served by |", "|---|---|---|---|---|"]
    for spec in d.ALL:
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "-"
        lines.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.help} | {spec.source} |")
    sources = "; ".join(f"{name}: {where}" for name, where in _SOURCES.items())
    return "\n".join(lines) + f"\n\nServed by {sources}.\n"


def promql_cookbook() -> str:
    blocks = [f"{title}:\n\n```promql\n{query}\n```\n" for title, query in cookbook()]
    return "\n".join(blocks)


def reference() -> str:
    """Both, as they appear in docs/metrics.md."""
    return metrics_table() + "\n" + promql_cookbook()
