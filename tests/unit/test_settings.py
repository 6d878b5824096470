"""Settings come from the environment and say which variable is missing."""

from __future__ import annotations

import pytest

from config.app import result_backend_url
from config.settings import Settings, SettingsError
from routing.management_api import redact


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_BROKER_URL", "amqp://u:p@h:1/v")
    monkeypatch.setenv("SWITCHYARD_BROKER_CONSUMER_TIMEOUT_S", "600")
    settings = Settings(_env_file=None)
    assert settings.broker_url == "amqp://u:p@h:1/v"
    assert settings.broker_consumer_timeout_s == 600


def test_missing_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHYARD_DATABASE_URL", raising=False)
    with pytest.raises(SettingsError, match="SWITCHYARD_DATABASE_URL not set"):
        Settings(_env_file=None).require("database_url")


def test_result_backend_url_uses_psycopg3() -> None:
    assert result_backend_url("postgresql://a:b@h:5/d") == "db+postgresql+psycopg://a:b@h:5/d"
    with pytest.raises(ValueError, match="postgresql://"):
        result_backend_url("mysql://x")


def test_passwords_are_redacted() -> None:
    assert redact("amqp://user:secret@host:5672/v") == "amqp://user:***@host:5672/v"
    assert "secret" not in redact("http://admin:secret@h:15672")
