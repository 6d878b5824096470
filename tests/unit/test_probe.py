"""The pods' exec probe: the same verdict as `switchyard health`, without the heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import ENV_PREFIX, STACK_ENV_FILE, Settings, get_settings
from execution.health_files import HealthFiles
from ops import probe
from ops.bench.probe_cost import measure

# What the probe must never load: each costs tens of milliseconds and megabytes per call.
HEAVY = ("celery", "kombu", "pydantic", "pydantic_settings", "sqlalchemy", "psycopg")


def _heavy_modules_loaded(code: str, env: dict[str, str]) -> set[str]:
    """Top-level packages of `HEAVY` that a fresh interpreter has loaded after `code`."""
    script = (
        f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(done.stdout.split()) & set(HEAVY)


def test_the_probe_imports_no_celery_pydantic_or_sqlalchemy(tmp_path: Path) -> None:
    env = {**os.environ, probe.HEALTH_DIR_VARIABLE: str(tmp_path)}
    lean = "from ops.probe import main\ntry:\n    main(['--ready'])\nexcept SystemExit:\n    pass"
    assert _heavy_modules_loaded(lean, env) == set()
    # The same check sees them in the full CLI's path, so it can fail.
    full = "from ops.cli import main\nmain(['health', '--ready'])"
    assert {"celery", "pydantic"} <= _heavy_modules_loaded(full, env)


def test_the_probe_and_the_cli_give_the_same_verdict(tmp_path: Path) -> None:
    env = {**os.environ, probe.HEALTH_DIR_VARIABLE: str(tmp_path)}

    def codes() -> tuple[int, int]:
        lean = subprocess.run(
            [sys.executable, "-m", "ops.probe", "--ready", "--max-age", "60"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        full = subprocess.run(
            [sys.executable, "-m", "ops.cli", "health", "--ready", "--max-age", "60"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        return lean.returncode, full.returncode

    files = HealthFiles(tmp_path)
    assert codes() == (1, 1)
    files.touch_live()
    assert codes() == (1, 1)  # live, not ready
    files.mark_ready()
    assert codes() == (0, 0)


@pytest.mark.parametrize(
    ("environment", "env_file"),
    [
        ({}, ""),
        ({"SWITCHYARD_HEALTH_DIR": "/from/env"}, "SWITCHYARD_HEALTH_DIR=/from/file\n"),
        ({"switchyard_health_dir": "/lower/case"}, ""),
        ({}, "# a comment\nSWITCHYARD_HEALTH_DIR=/from/file\n"),
        ({}, "export SWITCHYARD_HEALTH_DIR='/quoted dir'\n"),
        ({}, 'SWITCHYARD_HEALTH_DIR="/double quoted"\nOTHER=1\n'),
        ({}, "SWITCHYARD_HEALTH_DIR=/plain # trailing comment\n"),
    ],
)
def test_the_probe_finds_the_health_dir_where_the_settings_do(
    environment: dict[str, str],
    env_file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv(f"{ENV_PREFIX}STACK_DIR", str(tmp_path))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if env_file:
        (tmp_path / STACK_ENV_FILE).write_text(env_file)
    get_settings.cache_clear()
    try:
        assert probe.health_dir() == get_settings().health_dir
    finally:
        get_settings.cache_clear()


def test_the_probe_variable_is_the_settings_field() -> None:
    field = probe.HEALTH_DIR_VARIABLE.removeprefix(ENV_PREFIX).lower()
    assert field in Settings.model_fields


def test_the_probe_cost_counts_each_calls_cpu_and_memory() -> None:
    """`switchyard bench probe`'s figures see a large allocation and a failing call."""
    small = measure([sys.executable, "-c", "pass"], 2)
    large = measure([sys.executable, "-c", "b = bytearray(64 << 20); b[::4096] = b'x' * 16384"], 2)
    assert small.exit_codes == (0, 0)
    assert all(ms > 0 for ms in small.cpu_ms)
    assert 0 < small.floor_kib <= min(small.max_rss_kib)
    assert large.rss_mib_median > small.rss_mib_median + 50
    assert measure([sys.executable, "-c", "raise SystemExit(1)"], 1).exit_codes == (1,)


def test_bad_arguments_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.parse(["--ready", "--max-age=30"]) == (30.0, True)
    assert probe.parse(["--max-age", "5"]) == (5.0, False)
    assert probe.main(["--max-age", "soon"]) == 2
    assert "--max-age needs a number of seconds, not 'soon'" in capsys.readouterr().err
    assert probe.main(["--max-age"]) == 2
    assert probe.main(["--live"]) == 2
    assert "unknown argument '--live'" in capsys.readouterr().err
