"""`switchyard metrics generate | check | reference`: the files derived from the definitions.

`generate` writes the alert rules and the Grafana dashboard into the chart, which templates
them into a PrometheusRule and a dashboard ConfigMap; `check` exits 1 when they are stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import project_root

CHART_FILES = Path("helm") / "switchyard" / "files"
ALERTS_FILE = CHART_FILES / "alerts.yaml"
DASHBOARD_FILE = CHART_FILES / "dashboard.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("metrics", help="alert rules, dashboard and metric reference")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "generate", help=f"write {ALERTS_FILE} and {DASHBOARD_FILE} from the declaration"
    ).set_defaults(handler=_generate)
    actions.add_parser(
        "check", help="exit 1 when the generated files differ from a fresh generation"
    ).set_defaults(handler=_check)
    actions.add_parser(
        "reference", help="print the metrics table and PromQL cookbook of docs/metrics.md"
    ).set_defaults(handler=_reference)


def generated_files() -> dict[Path, str]:
    """Each generated file (relative to the checkout) and its fresh content."""
    from metrics.dashboard import dashboard_json
    from metrics.rules import alert_rules_yaml, chart_scope
    from routing.declaration import TOPOLOGY

    alerts = alert_rules_yaml(TOPOLOGY, scope=chart_scope(TOPOLOGY))
    return {ALERTS_FILE: alerts, DASHBOARD_FILE: dashboard_json(TOPOLOGY)}


def stale_files(root: Path) -> list[Path]:
    return [
        path
        for path, content in generated_files().items()
        if not (root / path).is_file() or (root / path).read_text() != content
    ]


def _generate(_: argparse.Namespace) -> int:
    root = project_root()
    for path, content in generated_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content)
        print(f"wrote {path}")
    return 0


def _check(_: argparse.Namespace) -> int:
    stale = stale_files(project_root())
    for path in stale:
        print(f"{path} is stale: run `switchyard metrics generate`", file=sys.stderr)
    return 1 if stale else 0


def _reference(_: argparse.Namespace) -> int:
    from metrics.reference import reference

    print(reference(), end="")
    return 0
