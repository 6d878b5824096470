"""A command run in a fresh interpreter that sees no Switchyard setting but those given."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


def run_without_settings(
    argv: Sequence[str | Path], stack_dir: Path, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Run `argv` with `SWITCHYARD_*` from `settings` only and an empty stack directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(
        {f"SWITCHYARD_{k}": v for k, v in settings.items()}, SWITCHYARD_STACK_DIR=str(stack_dir)
    )
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
