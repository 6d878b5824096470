"""`switchyard bench scaling`: its rows, how many tasks a row queues, the cost ratios."""

from __future__ import annotations

from ops.bench.scaling import KIB, MAX_BACKLOG_BYTES, Row, Sample, rows, table, tasks_for
from routing.declaration import TOPOLOGY


def test_rows_cover_the_worker_counts_and_body_sizes_once_each() -> None:
    grid = rows()
    assert [r.workers for r in grid if r.body_bytes == KIB][:3] == [1, 2, 4]
    sizes = sorted({r.body_bytes for r in grid})
    assert sizes[:2] == [KIB, 64 * KIB]
    limit = TOPOLOGY.queue(TOPOLOGY.default_queue).max_message_bytes
    assert limit - 8 * KIB < sizes[-1] < limit  # the largest body still fits the queue
    assert len(grid) == len(set(grid))


def test_large_bodies_queue_fewer_tasks() -> None:
    assert tasks_for(Row(2, KIB), 2_000) == 2_000
    assert tasks_for(Row(2, 1024 * KIB), 2_000) == MAX_BACKLOG_BYTES // (1024 * KIB)


def test_cost_is_shown_as_a_ratio_to_the_first_row() -> None:
    samples = {
        Row(1, KIB): [Sample(1000, 0.6, 0.4), Sample(900, 0.8, 0.2), Sample(1100, 0.7, 0.3)],
        Row(2, 64 * KIB): [Sample(500, 1.5, 0.5)],
    }
    lines = table(samples)
    assert lines[1].split()[-2:] == ["1.000", "1.00x"]
    assert lines[1].split()[5] == "1,000"  # the median rate
    assert lines[2].split()[-1] == "2.00x"
