"""Run a script against the Celery app in eager mode, in a fresh interpreter.

The app reads its settings once per process; a fresh interpreter with only the eager-mode
settings (and a stack directory of its own) runs tasks inline with no broker and no database,
so the unit tier can exercise `apply_async` and the registered tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_eager(script: str, stack_dir: Path) -> Any:
    """Run `script` with `SWITCHYARD_TASK_ALWAYS_EAGER`; return the JSON of its last line.

    Raises:
        AssertionError: the script failed; the message holds its stderr.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHYARD_")}
    env.update(SWITCHYARD_TASK_ALWAYS_EAGER="true", SWITCHYARD_STACK_DIR=str(stack_dir))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
