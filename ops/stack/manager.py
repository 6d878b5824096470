"""`switchyard stack up | down | status`: the local services, or the ones the environment names.

A service whose URL is exported in the environment (`SWITCHYARD_BROKER_URL`,
`SWITCHYARD_DATABASE_URL`) is used as it is and nothing is started for it; otherwise the
project-local one is started under the stack directory and its URLs are written to
`stack.env`, where the settings find them.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass

import psycopg
from kombu import Connection

from config.settings import ENV_PREFIX, STACK_ENV_FILE, get_settings
from ops.broker_users import pool_broker_url, producer_broker_url
from ops.stack.accounts import StackError
from ops.stack.cluster import RabbitCluster
from ops.stack.layout import StackLayout
from ops.stack.packages import ensure_services
from ops.stack.postgres import PostgresCluster, PostgresCredentials
from ops.stack.processes import read_json, write_private_json
from ops.stack.prometheus import PrometheusServer
from ops.stack.rabbitmq import RabbitCredentials, RabbitNode
from routing import names
from routing.declaration import TOPOLOGY
from routing.management_api import redact

BROKER_ENV = f"{ENV_PREFIX}BROKER_URL"
_COOKIE_SECRET = "rabbit_cookie"  # noqa: S105 - the key naming a generated secret
DATABASE_ENV = f"{ENV_PREFIX}DATABASE_URL"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    mode: str  # "local" or "external"
    pid: int | None
    address: str
    answers: bool


class Stack:
    """The broker and database this checkout uses.

    The broker is `broker_nodes` RabbitMQ nodes (`SWITCHYARD_BROKER_NODES`, 1 by default; the
    stack's settings file records the count `up` was given, so `down` and a later `up`
    mean the same broker).
    """

    def __init__(self, layout: StackLayout | None = None, broker_nodes: int | None = None) -> None:
        self.layout = layout or StackLayout.default()
        self.broker_nodes = broker_nodes or get_settings().broker_nodes
        self.external_broker = os.environ.get(BROKER_ENV, "")
        self.external_database = os.environ.get(DATABASE_ENV, "")
        self._broker: RabbitCluster | None = None
        self._postgres: PostgresCluster | None = None

    @property
    def broker(self) -> RabbitCluster:
        """Every local broker node; a single node is a cluster of one."""
        if self._broker is None:
            self._broker = self._nodes(self.broker_nodes)
        return self._broker

    @property
    def rabbit(self) -> RabbitNode:
        """The first broker node: the one the settings' URLs name first."""
        return self.broker.first

    def _nodes(self, count: int) -> RabbitCluster:
        s = self._secrets()
        creds = RabbitCredentials(s["rabbit_admin"], s["rabbit_app"], s[_COOKIE_SECRET])
        timeout = get_settings().broker_consumer_timeout_s
        return RabbitCluster(
            [RabbitNode(node, creds, timeout) for node in self.layout.broker_nodes(count)]
        )

    def _other_shapes(self) -> list[RabbitCluster]:
        """The broker shapes this stack has data for besides the current one."""
        cluster_size = len(list(self.layout.rabbit_cluster_dir.glob("node-*")))
        sizes = {1, cluster_size} - {0, self.broker_nodes}
        return [self._nodes(n) for n in sorted(sizes)]

    @property
    def postgres(self) -> PostgresCluster:
        if self._postgres is None:
            s = self._secrets()
            self._postgres = PostgresCluster(
                self.layout, PostgresCredentials(s["pg_super"], s["pg_owner"], s["pg_app"])
            )
        return self._postgres

    def up(self) -> list[str]:
        """Start and provision what is not external; return lines describing the result.

        Raises:
            StackError: a service could not be started, or an external one does not answer.
        """
        lines: list[str] = []
        if not (self.external_broker and self.external_database):
            installed = ensure_services()
            if installed:
                lines.append(f"installed {', '.join(installed)}")
        if self.external_broker:
            _check_broker(self.external_broker)
            lines.append(f"broker    external  {redact(self.external_broker)}")
        else:
            for other in self._other_shapes():
                if other.stop():
                    lines.append(f"broker    stopped the {len(other.nodes)}-node broker")
            if any(node.pid() is None for node in self.broker.nodes):
                _progress(f"starting RabbitMQ, {self.broker_nodes} node(s) (about 10 s each)")
            started = self.broker.start()
            self.rabbit.provision(self.pool_broker_urls(), self.producer_broker_url())
            lines.append(
                f"broker    {'started' if started else 'running'}   "
                f"{redact(self.rabbit.app_broker_url)}"
            )
            for node in self.broker.nodes[1:]:
                lines.append(
                    f"          clustered with {node.nodename} at {node.node.amqp_address}"
                )
            lines.append(
                f"          pool users {names.pool_broker_user('<pool>')}, each allowed only "
                "its pool's queues (URLs in the settings file)"
            )
            lines.append(
                f"          management UI http://127.0.0.1:{_port(self.rabbit.admin_api_url)}"
                f"  (user switchyard-admin, password in {self.layout.secrets_file})"
            )
        if self.external_database:
            _check_database(self.external_database)
            lines.append(f"database  external  {redact(self.external_database)}")
        else:
            if self.postgres.pid() is None:
                _progress("starting PostgreSQL")
            started = self.postgres.start()
            self.postgres.provision()
            lines.append(
                f"database  {'started' if started else 'running'}   {redact(self.postgres.app_url)}"
            )
        self._write_env_file()
        lines.append(f"settings  {self.layout.env_file}")
        return lines

    def down(self) -> list[str]:
        """Stop the processes this stack started; data stays for the next `up`."""
        lines = []
        if self.layout.root.is_dir():
            rabbit_ran = any([self.broker.stop(), *(o.stop() for o in self._other_shapes())])
            lines.append(f"broker    {'stopped' if rabbit_ran else 'was not running'}")
            pg_ran = self.postgres.stop()
            lines.append(f"database  {'stopped' if pg_ran else 'was not running'}")
            if PrometheusServer.local(self.layout).stop():
                lines.append("prometheus stopped")
        else:
            lines.append("no local stack here")
        return lines

    def status(self) -> list[ServiceStatus]:
        result = []
        if self.external_broker:
            result.append(
                ServiceStatus(
                    "broker",
                    "external",
                    None,
                    redact(self.external_broker),
                    _broker_answers(self.external_broker),
                )
            )
        else:
            for index, node in enumerate(self.broker.nodes, start=1):
                url = node.app_broker_url
                result.append(
                    ServiceStatus(
                        "broker" if len(self.broker.nodes) == 1 else f"broker-{index}",
                        "local",
                        node.pid(),
                        redact(url),
                        node.pid() is not None and _broker_answers(url),
                    )
                )
        if self.external_database:
            result.append(
                ServiceStatus(
                    "database",
                    "external",
                    None,
                    redact(self.external_database),
                    _database_answers(self.external_database),
                )
            )
        else:
            result.append(
                ServiceStatus(
                    "database",
                    "local",
                    self.postgres.pid(),
                    redact(self.postgres.app_url),
                    self.postgres.pid() is not None and self.postgres.answers(),
                )
            )
        prometheus = PrometheusServer.local(self.layout)
        if prometheus.pid() is not None:
            result.append(
                ServiceStatus(
                    "prometheus", "local", prometheus.pid(), prometheus.url, prometheus.ready()
                )
            )
        return result

    def refresh_pools(self) -> list[str]:
        """After the declaration changed: a password for every pool, each pool's user on
        the local node, and the settings file listing their URLs. Nothing for an external
        broker, whose pool URLs come from the environment.

        Raises:
            ManagementAPIError: the local node does not answer (`switchyard stack up`).
        """
        if self.external_broker:
            return []
        urls = self.pool_broker_urls()
        self.rabbit.provision(urls, self.producer_broker_url())
        self._write_env_file()
        return [f"settings  {self.layout.env_file}: broker URLs of {len(urls)} pool(s)"]

    def pool_broker_urls(self) -> dict[str, str]:
        """Each pool's own broker URL on the local node (its user sees only its queues)."""
        s = self._secrets()
        return {
            pool.name: pool_broker_url(
                self.rabbit.app_broker_url, pool.name, s[_pool_secret(pool.name)]
            )
            for pool in TOPOLOGY.pools
        }

    def producer_broker_url(self) -> str:
        """The producer API's own broker URL on the local node (it may only publish tasks)."""
        return producer_broker_url(self.rabbit.app_broker_url, self._secrets()[_API_SECRET])

    def _secrets(self) -> dict[str, str]:
        """Passwords of the local services, generated once and kept private to the owner."""
        stored = {
            k: v for k, v in read_json(self.layout.secrets_file).items() if isinstance(v, str)
        }
        wanted = (
            "rabbit_admin",
            "rabbit_app",
            "pg_super",
            "pg_owner",
            "pg_app",
            _COOKIE_SECRET,
            *(_pool_secret(pool.name) for pool in TOPOLOGY.pools),
            _API_SECRET,
        )
        if all(k in stored for k in wanted):
            return stored
        stored.setdefault(_COOKIE_SECRET, secrets.token_hex(20).upper())
        for key in wanted:
            stored.setdefault(key, secrets.token_urlsafe(18))
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.layout.root.chmod(0o755)
        write_private_json(self.layout.secrets_file, dict(stored))
        return stored

    def _write_env_file(self) -> None:
        values = {}
        if not self.external_broker:
            values["BROKER_URL"] = self.rabbit.app_broker_url
            values["BROKER_API_URL"] = self.rabbit.admin_api_url
            values["POOL_BROKER_URLS"] = json.dumps(self.pool_broker_urls(), separators=(",", ":"))
            values["API_BROKER_URL"] = self.producer_broker_url()
            values["BROKER_NODES"] = str(self.broker_nodes)
            values["BROKER_FAILOVER_HOSTS"] = ",".join(self.broker.failover_hosts())
        if not self.external_database:
            values["DATABASE_URL"] = self.postgres.app_url
            values["MIGRATION_DATABASE_URL"] = self.postgres.owner_url
        body = "".join(f"{ENV_PREFIX}{k}={v}\n" for k, v in values.items())
        path = self.layout.root / STACK_ENV_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(body)
        get_settings.cache_clear()


_API_SECRET = "rabbit_producer_api"  # noqa: S105 - the key naming a generated secret


def _pool_secret(pool: str) -> str:
    return f"rabbit_pool_{pool}"


def _progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def _port(url: str) -> str:
    return url.rsplit(":", 1)[-1]


def _broker_answers(url: str) -> bool:
    try:
        _check_broker(url)
    except StackError:
        return False
    return True


def _database_answers(url: str) -> bool:
    try:
        _check_database(url)
    except StackError:
        return False
    return True


def _check_broker(url: str) -> None:
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu raises many transport-specific errors
        raise StackError(f"broker {redact(url)} does not answer: {exc}") from None


def _check_database(url: str) -> None:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise StackError(f"database {redact(url)} does not answer: {exc}") from None
