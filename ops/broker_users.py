"""Create each pool's broker user with the permissions `routing.permissions` derives.

Run by `switchyard topology declare` (and so by the chart's hook Job) and by the local stack,
from the pool broker URLs the settings hold: the user in each URL must be the pool's derived
user name, and its password is the one set.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from config.settings import ENV_PREFIX, get_settings
from routing import names
from routing.declaration import TOPOLOGY
from routing.management_api import ManagementAPI, quote
from routing.model import Topology
from routing.permissions import PoolPermissions, pool_permissions, producer_permissions
from routing.worker_command import worker_env

POOL_BROKER_URL_ENV = f"{ENV_PREFIX}POOL_BROKER_URL"


class PoolUserError(ValueError):
    """A pool broker URL does not fit the declaration; the message says which and why."""


def pool_broker_url(shared_url: str, pool: str, password: str) -> str:
    """`shared_url` with the pool's own user and `password` in place of its credentials."""
    return _with_user(shared_url, names.pool_broker_user(pool), password)


def _with_user(shared_url: str, user: str, password: str) -> str:
    parts = urllib.parse.urlsplit(shared_url)
    host = parts.hostname or ""
    netloc = f"{urllib.parse.quote(user, safe='')}:" + (
        f"{urllib.parse.quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def grant_pool_users(
    api: ManagementAPI, vhost: str, topology: Topology, pool_urls: Mapping[str, str]
) -> list[str]:
    """Create or update every pool user named in `pool_urls`; return a line per user.

    Raises:
        PoolUserError: an unknown pool, or a URL whose user is not the pool's user name.
        ManagementAPIError: the broker refused a call.
    """
    lines = []
    pools = {p.name: p for p in topology.pools}
    for pool_name, url in sorted(pool_urls.items()):
        pool = pools.get(pool_name)
        if pool is None:
            raise PoolUserError(
                f"pool broker URL for unknown pool {pool_name!r} (pools: {', '.join(pools)})"
            )
        parts = urllib.parse.urlsplit(url)
        user = urllib.parse.unquote(parts.username or "")
        granted = pool_permissions(pool)
        if user != granted.user:
            raise PoolUserError(
                f"the broker URL of pool {pool_name!r} names user {user!r}; "
                f"it must be {granted.user!r}"
            )
        password = urllib.parse.unquote(parts.password or "")
        if not password:
            raise PoolUserError(f"the broker URL of pool {pool_name!r} has no password")
        _grant(api, vhost, granted, password)
        lines.append(f"user      {user}: queues {', '.join(pool.queues)}")
    return lines


def grant_producer_user(api: ManagementAPI, vhost: str, topology: Topology, url: str) -> str:
    """Create or update the producer API's user from its URL; return a line saying so.

    Raises:
        PoolUserError: the URL names another user or has no password.
    """
    granted = producer_permissions(topology)
    parts = urllib.parse.urlsplit(url)
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    if user != granted.user or not password:
        raise PoolUserError(
            f"the producer API's broker URL must name user {granted.user!r} with a password"
        )
    _grant(api, vhost, granted, password)
    return f"user      {user}: publishes tasks only"


def producer_broker_url(shared_url: str, password: str) -> str:
    """`shared_url` with the producer API's user and `password` as its credentials."""
    return _with_user(shared_url, names.PRODUCER_BROKER_USER, password)


def _grant(api: ManagementAPI, vhost: str, granted: PoolPermissions, password: str) -> None:
    user = quote(granted.user)
    api.put(f"users/{user}", {"password": password, "tags": ""})
    api.put(
        f"permissions/{quote(vhost)}/{user}",
        {"configure": granted.configure, "write": granted.write, "read": granted.read},
    )
    for exchange, write in granted.topic_write.items():
        api.put(
            f"topic-permissions/{quote(vhost)}/{user}",
            {"exchange": exchange, "write": write, "read": granted.topic_read},
        )


def pool_worker_env(pool: str) -> dict[str, str]:
    """What a launched worker of `pool` needs in its environment: the pool's own broker
    user (none when no pool URLs are configured: it then uses the shared broker URL) and
    what its command line needs (`routing.worker_command.worker_env`).

    Raises:
        PoolUserError: the other pools have broker URLs and this one has none; it would
            otherwise connect as the producer's user.
    """
    settings = get_settings()
    url = settings.pool_broker_urls.get(pool)
    if settings.pool_broker_urls and not url:
        raise PoolUserError(
            f"pool {pool!r} has no broker user of its own (no URL in "
            f"{ENV_PREFIX}POOL_BROKER_URLS): run `switchyard apply`, which creates it; "
            "the pool will not connect as the producer's user"
        )
    return {**worker_env(TOPOLOGY.pool(pool)), **({POOL_BROKER_URL_ENV: url} if url else {})}
