"""The result migrations ship in the package, and `db migrate --sql` prints the whole schema."""

from __future__ import annotations

import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from results.migration import MIGRATIONS, MigrationError, head, migration_sql
from results.schema import metadata
from tests.unit.clean_process import run_without_settings

ROOT = Path(__file__).resolve().parents[2]


def test_package_data_ships_every_migration_file() -> None:
    """An installed wheel (the image) has no source tree: what package-data misses is lost."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["results"]
    package = MIGRATIONS.parent
    files = [
        p.relative_to(package).as_posix()
        for p in MIGRATIONS.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "migrations/env.py" in files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []


def test_revision_files_are_named_after_their_revision() -> None:
    names = sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    assert names[0] == "v0001_baseline.py"
    assert names[-1].startswith(f"v{head()}_")


def test_printed_sql_creates_every_declared_table_and_grants_row_access() -> None:
    printed = migration_sql(runtime_role="app")
    for table in metadata.tables:
        assert f"CREATE TABLE {table} (" in printed
    assert "INSERT INTO alembic_version (version_num) VALUES " in printed
    assert f"SET version_num='{head()}'" in printed or f"VALUES ('{head()}')" in printed, (
        "the printed SQL does not end at the head revision"
    )
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON switchyard_task_result TO "app"' in printed
    assert "GRANT" not in migration_sql(runtime_role=None)


def test_printed_sql_from_head_changes_nothing() -> None:
    printed = migration_sql(from_revision=head())
    assert "CREATE" not in printed
    assert "ALTER" not in printed


def test_printed_sql_from_an_unknown_revision_is_a_clear_error() -> None:
    with pytest.raises(MigrationError, match=f"--from 9999: .* end at {head()}"):
        migration_sql(from_revision="9999")


def test_the_command_prints_the_sql_without_any_database_setting(tmp_path: Path) -> None:
    """A DBA's machine has the package and no database URL: `--sql` needs neither."""
    switchyard = Path(sys.executable).with_name("switchyard")
    done = run_without_settings([switchyard, "db", "migrate", "--sql"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("CREATE TABLE ") == len(metadata.tables) + 1  # + alembic_version
    assert "GRANT" not in done.stdout
