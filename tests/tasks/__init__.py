"""Test-only tasks: probes with known outcomes and tasks that misbehave on purpose.

They never ship in production workers; the integration tier's workers import them through
`SWITCHYARD_EXTRA_TASK_MODULES` (`TEST_TASK_MODULES` below).
"""

TEST_TASK_MODULES = (
    "tests.tasks.probes",
    "tests.tasks.metrics_probes",
    "tests.tasks.faults",
    "ops.bench.tasks",
    "ops.chaos.tasks",
)
