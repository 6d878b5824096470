"""Where this checkout and its local stack live; `os` only.

Kept apart from `config.settings` so that a command run every few seconds (the pods' health
probe) finds the stack's env file without importing pydantic or even `pathlib`;
`config.settings` wraps these in `Path` for everything else.
"""

from __future__ import annotations

import os

ENV_PREFIX = "SWITCHYARD_"
STACK_ENV_FILE = "stack.env"


def project_root_dir() -> str:
    """The checkout this package runs from, or the working directory when installed."""
    here = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    return here if os.path.isfile(os.path.join(here, "pyproject.toml")) else os.getcwd()


def stack_dir_path() -> str:
    """Where the local stack keeps its data, logs and generated secrets."""
    configured = os.environ.get(f"{ENV_PREFIX}STACK_DIR")
    return (
        os.path.realpath(configured) if configured else os.path.join(project_root_dir(), ".stack")
    )
