"""Every metric is defined once, and everything that names one is derived from the definition."""

from __future__ import annotations

from prometheus_client import REGISTRY

from config.settings import project_root
from metrics import definitions as d
from metrics import instruments
from metrics.queues import watched_queues
from metrics.reference import reference
from ops.commands.metrics import stale_files
from routing.declaration import TOPOLOGY
from routing.entities import broker_entities


def test_names_are_unique() -> None:
    names = [spec.name for spec in d.ALL]
    assert len(names) == len(set(names))


def test_instruments_expose_exactly_the_defined_names_types_and_labels() -> None:
    exposed = {
        family.name: family.type
        for family in REGISTRY.collect()
        if family.name.startswith(("celery_", "switchyard_"))
    }
    in_process = {s.family: s.kind for s in d.ALL if s.source != "exporter"}
    assert exposed == in_process
    assert instruments.task_failed._labelnames == d.TASK_FAILED.labels
    assert instruments.worker_up._labelnames == d.WORKER_UP.labels


def test_exporter_watches_every_declared_queue_and_nothing_else() -> None:
    declared = {queue.name for queue in broker_entities(TOPOLOGY).all_queues}
    assert {q.name for q in watched_queues(TOPOLOGY)} == declared


def test_delayed_and_plain_routing_keys_map_to_the_declared_queue() -> None:
    queue = TOPOLOGY.queues[0].name
    delayed = ".".join("0" * 27) + ".1." + queue
    assert instruments.queue_label(queue) == queue
    assert instruments.queue_label(delayed) == queue
    assert instruments.queue_label("not-declared") == "not-declared"


def test_generated_alerts_and_dashboard_are_fresh() -> None:
    """Fails after a change to the declaration or the metrics until they are regenerated."""
    stale = stale_files(project_root())
    assert stale == [], f"run `switchyard metrics generate`: {stale}"


def test_docs_hold_the_generated_metrics_reference() -> None:
    page = (project_root() / "docs" / "metrics.md").read_text()
    assert reference() in page, "paste `switchyard metrics reference` into docs/metrics.md"
