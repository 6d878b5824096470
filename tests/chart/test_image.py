"""The Dockerfile agrees with the chart: same non-root uid, the CLI on PATH, a small context.

There is no image build here (no container engine); these checks read the files.
"""

from __future__ import annotations

import tomllib

import yaml

from config.settings import project_root

ROOT = project_root()
DOCKERFILE = (ROOT / "Dockerfile").read_text().splitlines()
IGNORED = {
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def _final_stage() -> list[str]:
    starts = [i for i, line in enumerate(DOCKERFILE) if line.startswith("FROM ")]
    assert len(starts) >= 2, "a multi-stage build: the build tools stay out of the image"
    return DOCKERFILE[starts[-1] :]


def test_image_runs_as_the_uid_the_chart_requires() -> None:
    values = yaml.safe_load((ROOT / "helm" / "switchyard" / "values.yaml").read_text())
    context = values["podSecurityContext"]
    (user,) = [line for line in _final_stage() if line.startswith("USER ")]
    assert user == f"USER {context['runAsUser']}:{context['runAsGroup']}"


def test_default_command_is_the_cli_help() -> None:
    assert _final_stage()[-1] == 'CMD ["switchyard", "--help"]'


def test_build_context_keeps_every_package_and_drops_local_state() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not {p.rstrip("*") for p in packages} & IGNORED
    assert {".git", ".venv", ".stack", ".tools", "tests"} <= IGNORED
