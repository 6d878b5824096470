"""The progress display: a bar on a terminal, plain lines in a log, nothing under --json;
never a byte on stdout, where tables and JSON go."""

from __future__ import annotations

import io

import pytest

from ops.progress import ProgressDisplay, choose_mode


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_mode_follows_json_and_the_terminal() -> None:
    assert choose_mode(True, _Terminal()) == "quiet"
    assert choose_mode(False, _Terminal()) == "bar"
    assert choose_mode(False, io.StringIO()) == "lines"
    assert choose_mode(True, io.StringIO()) == "quiet"


def _drive(display: ProgressDisplay) -> None:
    with display:
        display.step("[stock] drain 1/3")
        display("2,000 queued")
        display.advance()


def test_lines_mode_prints_one_line_per_message(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    _drive(ProgressDisplay(3, "lines", stream))
    assert stream.getvalue().splitlines() == [
        "... [stock] drain 1/3",
        "... [stock] drain 1/3: 2,000 queued",
    ]
    assert capsys.readouterr().out == ""


def test_quiet_mode_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    stream = io.StringIO()
    _drive(ProgressDisplay(3, "quiet", stream))
    assert stream.getvalue() == ""
    assert capsys.readouterr() == ("", "")


def test_bar_mode_draws_on_its_stream_only(capsys: pytest.CaptureFixture[str]) -> None:
    stream = _Terminal()
    display = ProgressDisplay(3, "bar", stream)
    with display:
        display.step("[stock] drain 1/3")
        display.watch(lambda: 1.0, "tasks")
        display("2,000 queued")
        display.advance()
    drawn = stream.getvalue()
    assert "[stock] drain 1/3" in drawn
    assert "1/3" in drawn
    assert capsys.readouterr().out == ""
