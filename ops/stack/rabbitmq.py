"""A project-local RabbitMQ node: configured, started, provisioned and stopped by pid.

The node listens on its own address only (loopback unless placed elsewhere), keeps its data
under the stack directory, and never has a `guest` user: the administrator is created at
first boot from the config file. Nodes of a cluster share an Erlang cookie, generated once
with the stack's other secrets; `ops.stack.cluster` joins them.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from config.broker_node import cluster_config_lines
from ops.broker_users import grant_pool_users, grant_producer_user
from ops.stack import layout as L
from ops.stack.accounts import Account, StackError
from ops.stack.packages import rabbitmq_installed, rabbitmq_server
from ops.stack.processes import is_ours, port_open, stop, wait_until
from routing.declaration import TOPOLOGY
from routing.management_api import ManagementAPI, ManagementAPIError, quote

SERVICE_ACCOUNT = "rabbitmq"
# Started nodes outlive the call that started them; their handles are kept so the
# start script is reaped when it exits rather than warned about when collected.
_DETACHED: list[subprocess.Popen[bytes]] = []
START_TIMEOUT_S = 120
PLUGINS = ("rabbitmq_management", "rabbitmq_prometheus")


@dataclass(frozen=True)
class RabbitCredentials:
    admin_password: str
    app_password: str
    cookie: str = ""  # the Erlang cookie every node of a cluster shares; empty: the node's own


class RabbitNode:
    """One RabbitMQ node: the single node under `<stack>/rabbitmq`, or one of a cluster's."""

    def __init__(
        self, node: L.BrokerNode, creds: RabbitCredentials, consumer_timeout_s: int
    ) -> None:
        self.node = node
        self.dir = node.dir
        self.host = node.host
        self.ports = node.ports
        self.creds = creds
        self.consumer_timeout_s = consumer_timeout_s

    @property
    def nodename(self) -> str:
        return self.node.nodename

    @cached_property
    def account(self) -> Account:
        """The node's OS account, looked up only once the package (which creates it) is in."""
        rabbitmq_server()
        return Account.for_service(SERVICE_ACCOUNT)

    @property
    def pid_file(self) -> Path:
        return self.dir / "rabbit.pid"

    @property
    def marker(self) -> str:
        """Part of the node's command line (its HOME), to recognise it by pid."""
        return str(self.dir / "home")

    @property
    def admin_api_url(self) -> str:
        return f"http://{L.BROKER_ADMIN_USER}:{self.creds.admin_password}@{self.host}:{self.ports.management}"

    @property
    def app_broker_url(self) -> str:
        return f"amqp://{L.BROKER_APP_USER}:{self.creds.app_password}@{self.node.amqp_address}/{L.VHOST}"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if is_ours(pid, self.marker) else None

    def start(self) -> bool:
        """Start the node unless it runs and wait until it answers; True when this call
        started it.

        Raises:
            StackError: the node did not come up; the message holds its log's last lines.
        """
        started = self.launch()
        self.wait_answering()
        return started

    def launch(self) -> bool:
        """Start the node's process unless it runs, without waiting for it: the nodes of a
        cluster that stopped together wait for each other at boot, so all are launched
        before any is waited for. True when this call started it.

        Raises:
            StackError: its ports are taken by another process.
        """
        if self.pid() is not None:
            return False
        if port_open(self.host, self.ports.amqp) or port_open(self.host, self.ports.management):
            raise StackError(
                f"ports {self.ports.amqp}/{self.ports.management} on {self.host} are taken by "
                "another process; stop it, or point SWITCHYARD_BROKER_URL at that broker"
            )
        script = rabbitmq_server()
        self._write_config()
        out = open(self.dir / "startup.log", "ab")  # noqa: SIM115 - handed to the child
        with out:
            _DETACHED.append(
                subprocess.Popen(
                    [str(script)],
                    cwd=self.dir,
                    env=self._environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=self.account.demote(),  # noqa: PLW1509 - drops root before exec
                    start_new_session=True,
                )
            )
        return True

    def wait_answering(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the node's management API answers.

        Raises:
            StackError: it did not in `timeout` seconds; the message holds its log's last lines.
        """
        if not wait_until(self.answers, timeout, interval=0.5):
            raise StackError(
                f"RabbitMQ node {self.nodename} did not answer in {timeout:.0f}s:\n"
                f"{self._log_tail()}"
            )

    def provision(self, pool_urls: Mapping[str, str], producer_url: str) -> None:
        """Create the application vhost and user, each pool's user and the producer API's
        user; idempotent."""
        api = ManagementAPI(self.admin_api_url)
        api.put(f"vhosts/{quote(L.VHOST)}", {})
        api.put(
            f"users/{quote(L.BROKER_APP_USER)}", {"password": self.creds.app_password, "tags": ""}
        )
        everything = {"configure": ".*", "write": ".*", "read": ".*"}
        for user in (L.BROKER_APP_USER, L.BROKER_ADMIN_USER):
            api.put(f"permissions/{quote(L.VHOST)}/{quote(user)}", everything)
        grant_pool_users(api, L.VHOST, TOPOLOGY, pool_urls)
        grant_producer_user(api, L.VHOST, TOPOLOGY, producer_url)

    def stop(self, port_mapper: bool = True) -> bool:
        """Stop the node gracefully, then (unless other nodes still use it) the port mapper
        it started; True if it ran."""
        pid = self.pid()
        stopped = stop(pid, self.marker, signal.SIGTERM, timeout=60) if pid else False
        if port_mapper:
            self.stop_port_mapper()
        return stopped

    def kill(self) -> bool:
        """SIGKILL the node, as a crashed machine or the OOM killer would; True if it ran."""
        pid = self.pid()
        return stop(pid, self.marker, signal.SIGKILL, timeout=30) if pid else False

    def stop_port_mapper(self) -> None:
        epmd = _epmd()
        if epmd is not None and rabbitmq_installed():
            subprocess.run(
                [str(epmd), "-port", str(self.ports.epmd), "-kill"],
                capture_output=True,
                check=False,
                env=dict(os.environ, ERL_EPMD_ADDRESS=self.host),
                preexec_fn=self.account.demote(),
            )

    def ctl(self, *args: str) -> str:
        """Run `rabbitmqctl` against this node (as its account, with its cookie).

        Raises:
            StackError: the command failed; the message holds its output.
        """
        ctl = rabbitmq_server().with_name("rabbitmqctl")
        result = subprocess.run(
            [str(ctl), *args],
            cwd=self.dir,
            env=self._environment(),
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=self.account.demote(),
        )
        if result.returncode != 0:
            raise StackError(f"rabbitmqctl {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout.strip()

    def answers(self) -> bool:
        """True when the node's management API answers (it runs and booted)."""
        if not port_open(self.host, self.ports.management):
            return False
        try:
            ManagementAPI(self.admin_api_url, timeout=2).get("overview")
        except ManagementAPIError:
            return False
        return True

    def _write_config(self) -> None:
        for sub in ("mnesia", "log", "home"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self.account.check_reachable(self.dir)
        if self.creds.cookie:
            cookie = self.dir / "home" / ".erlang.cookie"
            cookie.unlink(missing_ok=True)
            cookie.write_text(self.creds.cookie)
            cookie.chmod(0o400)
        conf = "\n".join(
            [
                f"listeners.tcp.1 = {self.host}:{self.ports.amqp}",
                f"management.tcp.ip = {self.host}",
                f"management.tcp.port = {self.ports.management}",
                f"prometheus.tcp.ip = {self.host}",
                f"prometheus.tcp.port = {self.ports.prometheus}",
                f"default_user = {L.BROKER_ADMIN_USER}",
                f"default_pass = {self.creds.admin_password}",
                "default_user_tags.administrator = true",
                f"default_vhost = {L.VHOST}",
                f"consumer_timeout = {self.consumer_timeout_s * 1000}",
                "log.console = false",
                "log.file.level = info",
                *cluster_config_lines(),
                "",
            ]
        )
        conf_path = self.dir / "rabbitmq.conf"
        conf_path.write_text(conf)
        conf_path.chmod(0o600)
        (self.dir / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
        self.account.own(self.dir)

    def _environment(self) -> dict[str, str]:
        return dict(
            os.environ,
            HOME=str(self.dir / "home"),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=self.host,
            RABBITMQ_DIST_PORT=str(self.ports.dist),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "rabbitmq.conf"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            ERL_EPMD_PORT=str(self.ports.epmd),
            ERL_EPMD_ADDRESS=self.host,
        )

    def _log_tail(self, lines: int = 25) -> str:
        chunks: list[str] = []
        for log in [self.dir / "startup.log", *sorted((self.dir / "log").glob("*.log"))]:
            try:
                chunks.append(
                    f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-lines:])
                )
            except OSError:
                continue
        return "\n".join(chunks)


def _epmd() -> Path | None:
    for candidate in (Path("/usr/bin/epmd"), *Path("/usr/lib/erlang").glob("erts-*/bin/epmd")):
        if candidate.is_file():
            return candidate
    return None
