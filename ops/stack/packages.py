"""Find the OS packages' binaries, installing the packages when this process may.

On Debian or Ubuntu as root a missing package is installed with apt-get; anywhere else the
user is told the exact command, and nothing is half-started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from ops.stack.accounts import StackError

RABBITMQ_PACKAGE = "rabbitmq-server"
POSTGRES_PACKAGE = "postgresql"
PROMETHEUS_PACKAGE = "prometheus"
MIN_POSTGRES_MAJOR = 15

_RABBIT_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
_POSTGRES_LIB = Path("/usr/lib/postgresql")


def rabbitmq_server() -> Path:
    """The RabbitMQ start script itself, not Debian's wrapper that drops privileges."""
    return _find(RABBITMQ_PACKAGE, _locate_rabbitmq)


def postgres_bindir() -> Path:
    """The bin directory of the newest installed PostgreSQL major >= 15."""
    return _find(POSTGRES_PACKAGE, _locate_postgres)


def prometheus() -> Path:
    """The Prometheus server binary."""
    return _find(PROMETHEUS_PACKAGE, _LOCATORS[PROMETHEUS_PACKAGE])


def promtool() -> Path:
    """Prometheus' rule checker, shipped in the same package as the server."""
    return _find(PROMETHEUS_PACKAGE, lambda: _which("promtool"))


def rabbitmq_installed() -> bool:
    """Whether the RabbitMQ package is present; never installs it (for `stack down`)."""
    return _locate_rabbitmq() is not None


def ensure_services() -> list[str]:
    """Install, in one apt-get run, every service package that is missing; return their names.

    `make run` and `make test` both come through here first, so a fresh machine takes the
    same path whichever command a user types first, and the services' OS accounts
    (`rabbitmq`, `postgres`) exist before anything looks them up.

    Raises:
        StackError: a package is missing and this process may not install it; the message
            holds the exact `sudo apt-get` line.
    """
    missing = [package for package, locate in _LOCATORS.items() if locate() is None]
    if missing:
        install_packages(missing)
        still = [package for package in missing if _LOCATORS[package]() is None]
        if still:
            raise StackError(f"{', '.join(still)} installed but its binaries were not found")
    return missing


def _find(package: str, locate: Callable[[], Path | None]) -> Path:
    found = locate()
    if found is not None:
        return found
    install_packages([package])
    found = locate()
    if found is None:
        raise StackError(f"{package} was installed but its binaries were not found")
    return found


def install_packages(packages: list[str]) -> None:
    """Install OS packages with apt-get, or stop with the command the user must run.

    Raises:
        StackError: not root, not Debian/Ubuntu, or apt-get failed.
    """
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    shown = "sudo apt-get update && sudo " + " ".join(command)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(f"missing OS package(s) {', '.join(packages)}; install with: {shown}")
    print(f"installing {', '.join(packages)} with apt-get ...", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-q"], command):
        result = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"`{' '.join(step)}` failed:\n{result.stderr.strip()[-2000:]}")


def _locate_rabbitmq() -> Path | None:
    return _RABBIT_SCRIPT if _RABBIT_SCRIPT.is_file() else None


def _locate_postgres() -> Path | None:
    majors: list[tuple[int, Path]] = []
    if _POSTGRES_LIB.is_dir():
        for entry in _POSTGRES_LIB.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "initdb").is_file():
                majors.append((int(entry.name), entry / "bin"))
    majors = [m for m in majors if m[0] >= MIN_POSTGRES_MAJOR]
    if majors:
        return max(majors)[1]
    initdb = _which("initdb")
    return initdb.parent if initdb is not None else None


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


_LOCATORS: dict[str, Callable[[], Path | None]] = {
    RABBITMQ_PACKAGE: _locate_rabbitmq,
    POSTGRES_PACKAGE: _locate_postgres,
    PROMETHEUS_PACKAGE: lambda: _which("prometheus"),
}
