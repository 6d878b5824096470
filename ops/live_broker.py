"""The live broker as the management API shows it, for `topology diff`, `prune` and `apply`."""

from __future__ import annotations

from config.settings import Settings
from metrics.exporter import vhost_of
from routing import names
from routing.diff import LiveBroker
from routing.management_api import ManagementAPI, quote
from routing.model import Topology


def management_api(settings: Settings) -> ManagementAPI:
    settings.require("broker_url", "broker_api_url")
    return ManagementAPI(settings.broker_api_url)


def live_broker(settings: Settings) -> LiveBroker:
    """Queues, exchanges and bindings of the app's vhost, and the broker's users."""
    vhost = vhost_of(settings.broker_url)
    api = management_api(settings)
    return LiveBroker(
        queues=api.get(f"queues/{quote(vhost)}"),
        exchanges=api.get(f"exchanges/{quote(vhost)}"),
        bindings=api.get(f"bindings/{quote(vhost)}"),
        users=api.get("users"),
    )


def expected_pool_users(topology: Topology, settings: Settings) -> frozenset[str] | None:
    """The users the pools connect as, or None when this deployment runs without pool
    users (no SWITCHYARD_POOL_BROKER_URLS): users are then not compared."""
    if not settings.pool_broker_urls:
        return None
    return frozenset(names.pool_broker_user(p.name) for p in topology.pools)


def pools_without_url(topology: Topology, settings: Settings) -> list[str]:
    """Pools with no broker URL of their own in a deployment that gives pools their own."""
    if not settings.pool_broker_urls:
        return []
    return [p.name for p in topology.pools if p.name not in settings.pool_broker_urls]
