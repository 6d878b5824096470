"""README.md and docs/*.md link only to files and headings that exist, and the README stays short.

A newcomer follows the README's links to the details in docs/; a moved file or a renamed
heading must fail here, not in front of a reader. Links inside code blocks are not links.
"""

from __future__ import annotations

import re
from pathlib import Path

from config.settings import project_root

README_MAX_LINES = 250

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
_EXTERNAL = ("http://", "https://", "mailto:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks."""
    lines: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line.lstrip()):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, line))
    return lines


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a file's headings: lowercased, punctuation dropped, '-' for ' '."""
    anchors: set[str] = set()
    for _, line in _prose_lines(text):
        match = _HEADING.match(line)
        if match:
            title = match.group(1).lower().replace("`", "")
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def broken_links(path: Path) -> list[str]:
    """Each relative link of a Markdown file whose file, or heading in that file, is missing."""
    problems: list[str] = []
    for number, line in _prose_lines(path.read_text()):
        for target in _LINK.findall(line):
            if target.startswith(_EXTERNAL):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.name}:{number}: {target}"
            if not resolved.exists():
                problems.append(f"{where}: no file {resolved}")
            elif (
                anchor
                and resolved.suffix == ".md"
                and anchor not in heading_anchors(resolved.read_text())
            ):
                problems.append(f"{where}: no heading #{anchor} in {resolved.name}")
    return problems


def length_problem(readme: Path) -> str | None:
    """Why the README is too long to read in ten minutes, or None."""
    lines = len(readme.read_text().splitlines())
    if lines > README_MAX_LINES:
        return f"{readme.name} has {lines} lines, over {README_MAX_LINES}; move details to docs/"
    return None


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def test_every_relative_link_in_readme_and_docs_resolves() -> None:
    root = project_root()
    assert (root / "docs").is_dir()
    problems = [problem for doc in documents(root) for problem in broken_links(doc)]
    assert problems == []


def test_readme_is_short_enough_to_read_in_ten_minutes() -> None:
    assert length_problem(project_root() / "README.md") is None


def test_a_readme_over_the_limit_is_reported(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("line\n" * README_MAX_LINES)
    assert length_problem(readme) is None
    readme.write_text("line\n" * (README_MAX_LINES + 1))
    assert length_problem(readme) == "README.md has 251 lines, over 250; move details to docs/"


def test_readme_links_every_docs_file() -> None:
    root = project_root()
    readme = (root / "README.md").read_text()
    unlinked = [
        doc.name
        for doc in sorted((root / "docs").glob("*.md"))
        if f"(docs/{doc.name}" not in readme
    ]
    assert unlinked == []


def test_a_broken_link_and_a_missing_heading_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faults.md").write_text("# Faults\n\n## Latest run\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "See [faults](docs/faults.md#latest-run) and [the site](https://example.com).\n"
        "See [gone](docs/benchmarks.md) and [no heading](docs/faults.md#history).\n"
        "```sh\necho [not a link](docs/nowhere.md)\n```\n"
    )
    problems = broken_links(readme)
    assert len(problems) == 2
    assert "README.md:2: docs/benchmarks.md: no file" in problems[0]
    assert "README.md:2: docs/faults.md#history: no heading #history in faults.md" in problems[1]


def test_a_link_to_a_heading_of_the_same_file_is_checked(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# The `inline` pool\n\n[up](#the-inline-pool) [down](#nothing-here)\n")
    assert broken_links(page) == ["page.md:3: #nothing-here: no heading #nothing-here in page.md"]
