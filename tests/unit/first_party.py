"""Switchyard's own source files, for the tests that scan them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The packages Switchyard ships, as pyproject.toml names them.
FIRST_PARTY = tuple(
    name.rstrip("*")
    for name in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
)


def first_party_sources() -> Iterator[tuple[Path, str]]:
    for package in FIRST_PARTY:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path, path.read_text()
