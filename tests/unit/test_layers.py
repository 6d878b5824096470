"""Top-level packages import one way: down the layer order, never in a cycle.

Every import statement of every module is read with `ast` (late imports inside functions
too, since they run as surely as the others), reduced to an arrow from one top-level
package to another, and checked against `LAYERS`. A new package must be given a layer here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from config.settings import project_root

# Lowest first. A package may import its own layer's siblings only where no cycle results,
# and any package of a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("compat",),  # Celery's private names, listed once; imports nothing of Switchyard's
    ("routing",),
    ("results", "deadletter", "execution"),
    ("metrics",),
    ("config",),
    ("tasks",),
    ("producer",),
    ("ops",),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}

Arrow = tuple[str, str]
Where = dict[Arrow, list[str]]


def project_packages(root: Path) -> list[str]:
    """Top-level packages of the checkout (folders with `__init__.py`), tests aside."""
    return sorted(
        p.name for p in root.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"
    )


def package_imports(root: Path, packages: list[str]) -> Where:
    """Arrows between `packages`, each with the `file:line module` lines that draw it."""
    where: Where = defaultdict(list)
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    target = module.split(".")[0]
                    if target in packages and target != package:
                        where[(package, target)].append(
                            f"{path.relative_to(root)}:{node.lineno} {module}"
                        )
    return dict(where)


def cycles(arrows: set[Arrow]) -> list[list[str]]:
    """Groups of packages that reach each other (strongly connected, more than one)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in arrows:
        graph[source].add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; a few dozen nodes, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def upward(arrows: set[Arrow], rank: dict[str, int]) -> list[Arrow]:
    """Arrows from a package to one of a higher layer."""
    return sorted((s, t) for s, t in arrows if rank[t] > rank[s])


@pytest.fixture(scope="module")
def imports() -> Where:
    root = project_root()
    return package_imports(root, project_packages(root))


def test_every_package_has_a_layer() -> None:
    assert sorted(set(project_packages(project_root())) - set(RANK)) == []


def test_no_import_cycle_between_packages(imports: Where) -> None:
    found = cycles(set(imports))
    detail = [
        line
        for group in found
        for arrow in imports
        if set(arrow) <= set(group)
        for line in imports[arrow]
    ]
    assert found == [], "\n".join(detail)


def test_no_package_imports_a_higher_layer(imports: Where) -> None:
    wrong = upward(set(imports), RANK)
    assert wrong == [], "\n".join(line for arrow in wrong for line in imports[arrow])


def test_a_planted_cycle_and_an_upward_arrow_are_found() -> None:
    arrows = {("ops", "config"), ("config", "routing"), ("routing", "ops"), ("metrics", "routing")}
    assert cycles(arrows) == [["config", "ops", "routing"]]
    assert upward(arrows, RANK) == [("routing", "ops")]
    assert cycles({("a", "b"), ("b", "c")}) == []
    assert cycles({("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")}) == [["a", "b"], ["c", "d"]]


def test_imports_are_read_from_the_source(tmp_path: Path) -> None:
    """Module-level, late and `from` imports all count; imports inside a package do not."""
    for package, text in {
        "low": "import high.thing\n",
        "high": "def late() -> None:\n    from low import x\n",
        "solo": "from solo import inner\nimport os\n",
    }.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(text)
    found = package_imports(tmp_path, project_packages(tmp_path))
    assert set(found) == {("low", "high"), ("high", "low")}
    assert found[("high", "low")] == ["high/__init__.py:2 low"]
    assert cycles(set(found)) == [["high", "low"]]
