"""Run a set of worker groups locally, as pods would run them, and stop them warmly.

Each group gets its own session, so a Ctrl-C reaches this process only; it then sends
SIGTERM to every group (Celery's warm shutdown: running tasks finish, nothing new is
taken) and waits for them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ops.stack.processes import wait_until

WARM_STOP_TIMEOUT_S = 60


def local_argv(argv: list[str]) -> list[str]:
    """Run `celery ...` with this interpreter, so no virtualenv must be on PATH."""
    return [sys.executable, "-m", "celery", *argv[1:]] if argv[:1] == ["celery"] else argv


@dataclass
class Process:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes]

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Supervisor:
    """Starts named processes with logs under `log_dir`; stops them all on `stop()`."""

    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                local_argv(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        process = Process(name, argv, log, popen)
        self.processes.append(process)
        return process

    def dead(self) -> list[Process]:
        return [p for p in self.processes if not p.alive]

    def stop(self, timeout: float = WARM_STOP_TIMEOUT_S) -> list[str]:
        """SIGTERM every process, wait, SIGKILL what remains; one line per process."""
        for process in self.processes:
            if process.alive:
                process.popen.send_signal(signal.SIGTERM)
        wait_until(lambda: not any(p.alive for p in self.processes), timeout)
        lines = []
        for process in self.processes:
            if process.alive:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
                lines.append(f"{process.name}: killed after {timeout:.0f}s")
            else:
                lines.append(f"{process.name}: stopped (exit {process.popen.returncode})")
        return lines

    def wait_forever(self) -> None:
        """Block until Ctrl-C or SIGTERM, or until a process dies unexpectedly."""
        stop = False

        def _on_signal(signum: int, _frame: object) -> None:
            nonlocal stop
            stop = True

        # Installed explicitly: a shell starts background jobs with SIGINT ignored.
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        while not stop:
            dead = self.dead()
            if dead:
                names = ", ".join(
                    f"{p.name} (exit {p.popen.returncode}, log {p.log})" for p in dead
                )
                print(f"stopped unexpectedly: {names}", file=sys.stderr)
                return
            time.sleep(0.5)
