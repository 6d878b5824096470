"""The worker command line of a pool: what `switchyard run` starts and what a pod runs."""

from __future__ import annotations

from routing.model import PoolSpec
from routing.names import worker_nodename

CELERY_APP = "config.app:app"
# Celery selects an out-of-tree pool class by `--pool custom` and this variable.
CUSTOM_POOL_ENV = "CELERY_CUSTOM_WORKER_POOL"
INLINE_POOL_CLASS = "execution.inline_pool:InlinePool"
# Beat's scheduler touches a liveness file after every tick; it ticks at least this often.
BEAT_SCHEDULER_CLASS = "ops.health:HealthFileScheduler"
BEAT_MAX_INTERVAL_S = 30
# Celery's threads pool does not enforce time limits; this one does.
THREAD_POOL_CLASS = "execution.thread_pool:GuardedThreadPool"
CUSTOM_POOL_CLASSES = {"inline": INLINE_POOL_CLASS, "threads": THREAD_POOL_CLASS}


def worker_env(pool: PoolSpec) -> dict[str, str]:
    """Environment the worker command line needs besides the deployment's settings."""
    custom = CUSTOM_POOL_CLASSES.get(pool.kind)
    return {CUSTOM_POOL_ENV: custom} if custom else {}


def worker_argv(pool: PoolSpec, instance: int = 0) -> list[str]:
    """`celery worker` arguments for one pool; the only place they are spelled out.

    Gossip and mingle are off: every worker would otherwise talk to every other one
    through the broker at start and forever after, which costs more than it tells.
    """
    argv = [
        "celery",
        "--app",
        CELERY_APP,
        "worker",
        "--hostname",
        worker_nodename(pool.name, instance),
        "--queues",
        ",".join(pool.queues),
        "--pool",
        "custom" if pool.kind in CUSTOM_POOL_CLASSES else pool.kind,
        "--concurrency",
        str(pool.concurrency),
        "--prefetch-multiplier",
        str(pool.prefetch_multiplier),
        "--soft-time-limit",
        str(pool.soft_time_limit_s),
        "--time-limit",
        str(pool.time_limit_s),
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        pool.log_level,
    ]
    if pool.max_tasks_per_child is not None and pool.kind == "prefork":
        argv += ["--max-tasks-per-child", str(pool.max_tasks_per_child)]
    return argv


def beat_argv(schedule_file: str) -> list[str]:
    """`celery beat` arguments; one beat per deployment, its schedule state in a file, and
    a tick at least every BEAT_MAX_INTERVAL_S that its liveness probe can see."""
    return [
        "celery",
        "--app",
        CELERY_APP,
        "beat",
        "--scheduler",
        BEAT_SCHEDULER_CLASS,
        "--max-interval",
        str(BEAT_MAX_INTERVAL_S),
        "--schedule",
        schedule_file,
        "--loglevel",
        "INFO",
    ]
