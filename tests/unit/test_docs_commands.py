"""Every `switchyard ...` and `make ...` command the README and docs/ show exists as written.

A reader copies these lines; a renamed subcommand, option or Makefile target must fail here.
Commands are taken from shell code blocks and from inline code spans. Placeholders (`<pool>`,
`N`, `S`) stand for a value, optional parts in brackets are left out, and a mention of a
command without its arguments (`switchyard send`, `switchyard dlq ...`) must name a real one.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from config.settings import project_root
from ops.cli import build_parser

_FENCE = re.compile(r"^\s*(```|~~~)(\w*)")
_SPAN = re.compile(r"`([^`]+)`")
_TARGET = re.compile(r"^([A-Za-z][\w-]*)\s*:(?!=)", re.MULTILINE)


def shown_commands(text: str, program: str) -> list[str]:
    """Lines of `sh` code blocks and inline code spans that run `program`, comments cut."""
    found: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if opened:
            fence = None if fence is not None else opened.group(2)
            continue
        if fence is None:
            candidates = _SPAN.findall(line)
        elif fence in ("sh", "bash"):
            candidates = [line.split(" #", 1)[0]]
        else:
            candidates = []
        found += [c.strip() for c in candidates if c.strip().startswith(f"{program} ")]
    return found


def _words(command: str) -> list[str]:
    words = shlex.split(re.sub(r"\[[^\]]*\]", "", command))
    return ["1" if w.startswith("<") or w in ("N", "S") else w for w in words[1:] if w != "..."]


def _exit_code(argv: list[str]) -> int:
    try:
        build_parser().parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    return 0


def switchyard_problem(command: str) -> str | None:
    """Why `build_parser()` refuses the command, or None when it parses.

    A mention without options that does not parse on its own (its arguments left out) must
    still name a real command: its `--help` has to succeed.
    """
    words = _words(command)
    if _exit_code(words) == 0:
        return None
    if not any(w.startswith("-") for w in words) and _exit_code([*words, "--help"]) == 0:
        return None
    return f"`{command}` is not a valid switchyard command"


def make_targets(makefile: str) -> set[str]:
    return set(_TARGET.findall(makefile))


def documents() -> list[Path]:
    root = project_root()
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def test_every_switchyard_command_shown_parses(capsys: pytest.CaptureFixture[str]) -> None:
    shown = [(d.name, c) for d in documents() for c in shown_commands(d.read_text(), "switchyard")]
    assert len(shown) > 20
    problems = [f"{name}: {p}" for name, c in shown if (p := switchyard_problem(c)) is not None]
    assert problems == [], capsys.readouterr().err


def test_every_make_target_shown_exists() -> None:
    targets = make_targets((project_root() / "Makefile").read_text())
    shown = {
        (doc.name, word)
        for doc in documents()
        for command in shown_commands(doc.read_text(), "make")
        for word in _words(command)
    }
    assert {"run", "test", "demo"} <= {word for _, word in shown}
    assert sorted(item for item in shown if item[1] not in targets) == []


def test_a_wrong_subcommand_or_option_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    text = "```sh\nswitchyard dlq replay webhooks.dlq --limit 10   # fine\n```\n"
    text += (
        "Run `switchyard send`, `switchyard topology shows` or `switchyard run --pools <pool>`.\n"
    )
    commands = shown_commands(text, "switchyard")
    assert commands == [
        "switchyard dlq replay webhooks.dlq --limit 10",
        "switchyard send",
        "switchyard topology shows",
        "switchyard run --pools <pool>",
    ]
    assert [switchyard_problem(c) for c in commands] == [
        None,
        None,
        "`switchyard topology shows` is not a valid switchyard command",
        "`switchyard run --pools <pool>` is not a valid switchyard command",
    ]
    capsys.readouterr()


def test_a_missing_make_target_is_reported() -> None:
    targets = make_targets("run: up\n\t$(SY) run\nVENV ?= .venv\nPY := x\n")
    assert targets == {"run"}
    assert [w for c in shown_commands("`make run` `make deploy`", "make") for w in _words(c)] == [
        "run",
        "deploy",
    ]
