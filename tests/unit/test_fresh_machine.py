"""A machine without the service packages: what a user sees before anything is installed."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from ops.stack import packages
from ops.stack.accounts import StackError
from ops.stack.layout import StackLayout
from ops.stack.postgres import PostgresCluster, PostgresCredentials
from ops.stack.rabbitmq import RabbitCredentials, RabbitNode


def test_a_normal_user_is_told_the_exact_sudo_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(StackError) as raised:
        packages.install_packages(["rabbitmq-server", "prometheus"])
    assert str(raised.value).endswith(
        "install with: sudo apt-get update && sudo apt-get install -y --no-install-recommends "
        "rabbitmq-server prometheus"
    )


def test_nothing_looks_up_a_service_account_before_its_package_is_in(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before the package created `rabbitmq`/`postgres`, building the stack must not fail."""

    def no_account(name: str) -> pwd.struct_passwd:
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", no_account)
    layout = StackLayout(tmp_path)
    RabbitNode(layout.broker_node(1, 1), RabbitCredentials("a", "b"), 1800)
    PostgresCluster(layout, PostgresCredentials("a", "b", "c"))


def test_every_service_package_has_a_locator() -> None:
    declared = {packages.RABBITMQ_PACKAGE, packages.POSTGRES_PACKAGE, packages.PROMETHEUS_PACKAGE}
    assert set(packages._LOCATORS) == declared
