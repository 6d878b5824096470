"""The README's topology table says what `routing/declaration.py` declares.

The table is typed by hand for a newcomer; the declaration is the one source of truth, so a
queue added, removed, retyped or moved to another pool without the table following fails here.
"""

from __future__ import annotations

import re

from config.settings import project_root
from routing.declaration import TOPOLOGY
from routing.model import Topology

_TIMES = "\N{MULTIPLICATION SIGN}"  # as in "prefork <sign>2"
_ROW = re.compile(r"^\| `([^`]+)` \| (\w+) \| ([^|]+) \| `([^`]+)` \(([^)]*)\) \|")


def table_rows(readme: str) -> dict[str, tuple[str, str, str, str]]:
    """queue -> (type, priority, pool, pool details) for each row of the topology table."""
    section = readme.split("## The topology", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str, str, str]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            queue, kind, priority, pool, details = match.groups()
            rows[queue] = (kind, priority.strip(), pool, details)
    return rows


def drift(topology: Topology, readme: str) -> list[str]:
    """Every difference between the declaration and the README's table, one line each."""
    rows = table_rows(readme)
    declared = {queue.name for queue in topology.queues}
    problems = [f"queue {name!r} is declared but not in the table" for name in declared - set(rows)]
    problems += [
        f"queue {name!r} is in the table but not declared" for name in set(rows) - declared
    ]
    for queue in topology.queues:
        if queue.name not in rows:
            continue
        kind, priority, pool_name, details = rows[queue.name]
        pool = next(p for p in topology.pools if queue.name in p.queues)
        expected_priority = f"0-{queue.max_priority}" if queue.max_priority else "-"
        if kind != queue.type:
            problems.append(f"{queue.name}: table says {kind}, declared {queue.type}")
        if priority != expected_priority:
            problems.append(f"{queue.name}: priority {priority}, declared {expected_priority}")
        if pool_name != pool.name:
            problems.append(f"{queue.name}: pool {pool_name}, declared {pool.name}")
        if pool.kind != "prefork" and pool.kind not in details:
            problems.append(f"{queue.name}: pool kind {pool.kind} missing from {details!r}")
        if pool.kind in ("prefork", "threads") and f"{_TIMES}{pool.concurrency}" not in details:
            problems.append(
                f"{queue.name}: concurrency {_TIMES}{pool.concurrency} not in {details!r}"
            )
    return sorted(problems)


def test_readme_topology_table_matches_the_declaration() -> None:
    readme = (project_root() / "README.md").read_text()
    assert len(table_rows(readme)) == len(TOPOLOGY.queues)
    assert drift(TOPOLOGY, readme) == []


def test_a_retyped_or_missing_queue_is_reported() -> None:
    readme = (project_root() / "README.md").read_text()
    first = TOPOLOGY.queues[0]
    retyped = readme.replace(f"| `{first.name}` | {first.type} |", f"| `{first.name}` | stream |")
    assert drift(TOPOLOGY, retyped) == [f"{first.name}: table says stream, declared {first.type}"]
    last = TOPOLOGY.queues[-1]
    without = "\n".join(
        line for line in readme.splitlines() if not line.startswith(f"| `{last.name}` |")
    )
    assert drift(TOPOLOGY, without) == [f"queue {last.name!r} is declared but not in the table"]
