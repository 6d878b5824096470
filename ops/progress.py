"""Progress of a command that runs for minutes (`switchyard bench`, `switchyard chaos`).

One display, three modes chosen once from where stderr goes:
- "bar": stderr is a terminal: a rich progress bar with the current step, its latest rate or
  figure, steps done and the time left (estimated from the steps done so far);
- "lines": stderr is not a terminal (a CI log, a pipe): one plain line per message, as
  these commands always printed;
- "quiet": `--json` was asked for: nothing, so that a script reading the output sees only
  the figures and the final table.
The display never writes to stdout, where the tables and JSON go.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Literal, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

Mode = Literal["bar", "lines", "quiet"]
REFRESH_S = 0.5


def choose_mode(json_output: bool, stream: TextIO) -> Mode:
    """`quiet` under --json, `bar` on a terminal, `lines` otherwise."""
    if json_output:
        return "quiet"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


class ProgressDisplay:
    """Steps of known count (`total`), each named by `step()`, finished by `advance()`.

    Calling the display with a message is how work reports from inside a step (it is a
    `Callable[[str], None]`): the bar shows the message beside the step, lines mode prints it.
    `watch()` follows a counter that moves inside a step (tasks published), with its rate.
    """

    def __init__(self, total: float, mode: Mode, stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self._step = ""
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._done = 0.0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.mode == "bar":
            self._bar = Progress(
                TextColumn("{task.description}", markup=False),  # "[stock]" is a name, not a style
                BarColumn(bar_width=16),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[note]}", markup=False),
                console=Console(file=self.stream),
                refresh_per_second=4,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("", total=self.total, note="")
        return self

    def __exit__(self, *exc: object) -> None:
        self.unwatch()
        if self._bar is not None:
            self._bar.stop()

    def step(self, name: str) -> None:
        """A new step starts; its name is shown until the next one."""
        self._step = name
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=name, note="")
        elif self.mode == "lines":
            self._line(name)

    def __call__(self, message: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, note=message)
        elif self.mode == "lines":
            self._line(f"{self._step}: {message}" if self._step else message)

    def advance(self, amount: float = 1.0) -> None:
        self._done += amount
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self._done)

    def watch(self, count: Callable[[], float], unit: str) -> None:
        """Until `unwatch()`: every half second, the bar's position is the step's start plus
        `count()`, and its note the rate of `count` in `unit`/s (lines mode: nothing)."""
        self.unwatch()
        if self._bar is None:
            return
        self._stop.clear()
        base = self._done
        started: list[float] = []  # when the count first moved: start-up is not a rate

        def follow() -> None:
            while not self._stop.wait(REFRESH_S):
                value = count()
                if value and not started:
                    started.append(time.monotonic() - REFRESH_S)
                rate = value / max(time.monotonic() - started[0], 1e-9) if started else 0.0
                if self._bar is not None and self._task is not None:
                    self._bar.update(
                        self._task, completed=base + value, note=f"{rate:,.0f} {unit}/s"
                    )

        self._watcher = threading.Thread(target=follow, daemon=True)
        self._watcher.start()

    def unwatch(self) -> None:
        if self._watcher is not None:
            self._stop.set()
            self._watcher.join()
            self._watcher = None

    def _line(self, text: str) -> None:
        print(f"... {text}", file=self.stream, flush=True)
