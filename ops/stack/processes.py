"""Processes the stack started, tracked by pid and recognised before they are signalled.

A pid is only trusted while the process's command line still names this stack's
directory: after a reboot the number may belong to something else, which must never be
killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path


def cmdline(pid: int) -> str:
    """The process's command line, or '' when it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_ours(pid: int | None, marker: str) -> bool:
    """True when `pid` runs and its command line contains `marker` (a stack path)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return marker in cmdline(pid)


def children(pid: int) -> list[int]:
    """Direct children of `pid` (a worker group's pool processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def stop(pid: int, marker: str, sig: signal.Signals, timeout: float) -> bool:
    """Signal an own process and wait for it to exit; SIGKILL after `timeout`.

    Returns True when the process was running and is now gone.
    """
    if not is_ours(pid, marker):
        return False
    os.kill(pid, sig)
    if wait_until(lambda: not is_ours(pid, marker), timeout):
        return True
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not is_ours(pid, marker), 10)
    return True


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP listener answers on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_private_json(path: Path, data: dict[str, object]) -> None:
    """Write JSON readable by the owner only (it may hold passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2, sort_keys=True)
    tmp.replace(path)
