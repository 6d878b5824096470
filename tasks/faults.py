"""Tasks that misbehave on purpose, for the fault suite and for checking a deployment."""

from __future__ import annotations

import os
import signal

from config.app import app


@app.task
def kill_own_worker_process() -> None:
    """SIGKILL the process running this task, as an OOM kill would."""
    os.kill(os.getpid(), signal.SIGKILL)
