"""The queue exporter: per declared queue, what the broker's management API counts.

Every scrape asks the API once (one HTTP call for all queues). When the broker cannot be
reached the exporter keeps serving: `switchyard_broker_up` drops to 0, the scrape-error
counter grows, queue series are left out rather than reported stale, and the next scrape
that reaches the broker restores them.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics import definitions as d
from metrics.queues import watched_queues
from routing.management_api import ManagementAPI, ManagementAPIError, quote
from routing.model import Topology

logger = logging.getLogger(__name__)

_COLUMNS = ",".join(
    (
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
        "message_stats.publish",
        "message_stats.deliver_get",
    )
)


def vhost_of(broker_url: str) -> str:
    """The vhost an AMQP URL names; `/` when it names none."""
    path = urllib.parse.urlsplit(broker_url).path.lstrip("/")
    return urllib.parse.unquote(path) or "/"


class QueueCollector(Collector):
    """Collects the queue metrics of one vhost from the management API at each scrape."""

    def __init__(self, api: ManagementAPI, vhost: str, topology: Topology) -> None:
        self.api = api
        self.vhost = vhost
        self.queues = watched_queues(topology)
        self.scrape_errors = 0

    def collect(self) -> Iterator[Metric]:
        try:
            rows = self.api.get(f"queues/{quote(self.vhost)}?columns={_COLUMNS}")
        except ManagementAPIError as exc:
            self.scrape_errors += 1
            logger.warning("broker management API unreachable: %s", exc)
            rows = None
        yield _family(d.BROKER_UP, [((), 0 if rows is None else 1)])
        yield _family(d.EXPORTER_SCRAPE_ERRORS, [((), self.scrape_errors)])
        if rows is not None:
            yield from self._queue_metrics({row["name"]: row for row in rows})

    def _queue_metrics(self, found: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        present = [(q, found[q.name]) for q in self.queues if q.name in found]
        per_queue = (
            (d.QUEUE_READY, lambda r: r.get("messages_ready", 0)),
            (d.QUEUE_UNACKED, lambda r: r.get("messages_unacknowledged", 0)),
            (d.QUEUE_CONSUMERS, lambda r: r.get("consumers", 0)),
            (d.QUEUE_PUBLISHED, lambda r: _stat(r, "publish")),
            (d.QUEUE_DELIVERED, lambda r: _stat(r, "deliver_get")),
        )
        for spec, value in per_queue:
            samples = [((q.name,), value(row)) for q, row in present]
            yield _family(spec, samples)
        yield _family(
            d.DEAD_LETTERED,
            [((q.work_queue,), _depth(row)) for q, row in present if q.kind == "dead_letter"],
        )
        yield _family(
            d.UNROUTABLE, [((), _depth(row)) for q, row in present if q.kind == "unroutable"]
        )


def exporter_registry(api: ManagementAPI, vhost: str, topology: Topology) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(QueueCollector(api, vhost, topology))
    return registry


Samples = Sequence[tuple[tuple[str, ...], float]]


def _family(spec: d.MetricSpec, samples: Samples) -> Metric:
    """A metric family named, typed and labelled as `spec` defines it."""
    cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
    family = cls(spec.family, spec.help, labels=spec.labels)
    for labels, value in samples:
        family.add_metric(list(labels), value)
    return family


def _stat(row: dict[str, Any], name: str) -> float:
    return float((row.get("message_stats") or {}).get(name, 0))


def _depth(row: dict[str, Any]) -> float:
    return float(row.get("messages_ready", 0) + row.get("messages_unacknowledged", 0))
