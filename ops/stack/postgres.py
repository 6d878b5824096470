"""A project-local PostgreSQL cluster: initdb'd, started, provisioned and stopped by pid.

It listens on loopback TCP only (no Unix socket, whose path length limit a deep checkout
would exceed) and authenticates every connection with SCRAM.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import psycopg
from psycopg import sql

from ops.stack import layout as L
from ops.stack.accounts import Account, StackError
from ops.stack.packages import postgres_bindir
from ops.stack.processes import is_ours, port_open, stop

SERVICE_ACCOUNT = "postgres"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class PostgresCredentials:
    superuser_password: str
    owner_password: str
    app_password: str


class PostgresCluster:
    """One cluster under `<stack>/postgres`."""

    def __init__(self, stack: L.StackLayout, creds: PostgresCredentials) -> None:
        self.data = stack.postgres_data
        self.ports = stack.ports
        self.log = stack.postgres_log
        self.dir = stack.postgres_dir
        self.creds = creds

    @cached_property
    def account(self) -> Account:
        """The server's OS account, looked up only once the package (which creates it) is in."""
        postgres_bindir()
        return Account.for_service(SERVICE_ACCOUNT)

    @property
    def marker(self) -> str:
        return str(self.data)

    def url(self, role: str, password: str, database: str = L.DATABASE) -> str:
        return f"postgresql://{role}:{password}@{L.HOST}:{self.ports.postgres}/{database}"

    @property
    def app_url(self) -> str:
        return self.url(L.DB_APP_ROLE, self.creds.app_password)

    @property
    def owner_url(self) -> str:
        return self.url(L.DB_OWNER_ROLE, self.creds.owner_password)

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if is_ours(pid, self.marker) else None

    def start(self) -> bool:
        """initdb on first use, then start unless running; True when this call started it.

        Raises:
            StackError: initdb or the server failed; the message holds the log's last lines.
        """
        if self.pid() is not None:
            return False
        if port_open(L.HOST, self.ports.postgres):
            raise StackError(
                f"port {self.ports.postgres} on {L.HOST} is taken by another process; stop it, "
                "or point SWITCHYARD_DATABASE_URL at that database"
            )
        bindir = postgres_bindir()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.account.check_reachable(self.dir)
        self.account.own(self.dir)
        if not (self.data / "PG_VERSION").is_file():
            self._initdb(bindir)
        options = (
            f"-c listen_addresses={L.HOST} -c port={self.ports.postgres} "
            "-c unix_socket_directories="
        )
        result = self._run(
            [
                str(bindir / "pg_ctl"),
                "start",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                options,
            ]
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start:\n{result.stdout}{self._log_tail()}")
        return True

    def provision(self) -> None:
        """Create the owner and runtime roles and the database; idempotent.

        The owner role holds the schema and runs migrations; the runtime role may only
        read and write rows in what the owner creates, never run DDL.
        """
        admin = self.url(L.DB_SUPERUSER, self.creds.superuser_password, "postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            for role, password in (
                (L.DB_OWNER_ROLE, self.creds.owner_password),
                (L.DB_APP_ROLE, self.creds.app_password),
            ):
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(
                    sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
                        sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
                    )
                )
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (L.DATABASE,)
            ).fetchone():
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(L.DATABASE), sql.Identifier(L.DB_OWNER_ROLE)
                    )
                )
        with psycopg.connect(
            self.url(L.DB_SUPERUSER, self.creds.superuser_password), autocommit=True
        ) as conn:
            owner, app, db = (
                sql.Identifier(n) for n in (L.DB_OWNER_ROLE, L.DB_APP_ROLE, L.DATABASE)
            )
            for statement in (
                "REVOKE ALL ON DATABASE {db} FROM PUBLIC",
                "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {app}",
                "ALTER SCHEMA public OWNER TO {owner}",
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                "GRANT USAGE ON SCHEMA public TO {app}",
                "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}",
                "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
                "GRANT USAGE, SELECT ON SEQUENCES TO {app}",
            ):
                conn.execute(sql.SQL(statement).format(owner=owner, app=app, db=db))

    def stop(self) -> bool:
        """Fast shutdown (rolls back open transactions, keeps committed data)."""
        pid = self.pid()
        return stop(pid, self.marker, signal.SIGINT, timeout=60) if pid else False

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.app_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _initdb(self, bindir: Path) -> None:
        with tempfile.NamedTemporaryFile("w", dir=self.dir, prefix="pw", delete=True) as pwfile:
            pwfile.write(self.creds.superuser_password + "\n")
            pwfile.flush()
            self.account.own(Path(pwfile.name))
            result = self._run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    L.DB_SUPERUSER,
                    "--pwfile",
                    pwfile.name,
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        if result.returncode != 0:
            raise StackError(f"initdb failed:\n{result.stdout}")

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.dir,
            capture_output=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            start_new_session=True,
            preexec_fn=self.account.demote(),
        )

    def _log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""
