"""Workers and a client app for one configuration, started and stopped by the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from kombu import Connection, Exchange, Queue

from config.app import celery_settings
from config.settings import (
    ENV_PREFIX,
    EXTRA_TASK_MODULES_ENV,
    Settings,
    get_settings,
    stack_dir,
)
from ops.bench import tasks as bench_tasks
from ops.bench.model import Configuration
from ops.broker import connection
from ops.broker_users import pool_worker_env
from ops.stack.processes import wait_until
from ops.supervisor import Supervisor
from routing.declaration import TOPOLOGY
from routing.declare import declare_topology
from routing.worker_command import worker_argv

READY_TIMEOUT_S = 60


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message says why."""


def client_app(configuration: Configuration) -> Celery:
    """A Celery app configured as `configuration`'s workers are, for sending and waiting."""
    if configuration.app_factory is not None:
        return configuration.app_factory()
    overrides = {
        name.removeprefix(ENV_PREFIX).lower(): value
        for name, value in configuration.environment.items()
    }
    settings = Settings.model_validate({**get_settings().model_dump(), **overrides})
    app = Celery(f"bench-{configuration.name}", set_as_current=False)
    app.conf.update(celery_settings(settings))
    return app


@contextmanager
def running_workers(
    configuration: Configuration, pool_name: str, backlog: bool = False
) -> Iterator[Supervisor]:
    """The pool's worker group, started with the configuration's environment, until exit.

    Parameters:
        backlog: messages wait in the queues on purpose (a drain); then the workers are
            not waited for either: the drain times them from their first delivery.

    Raises:
        BenchError: the pool's queues are already consumed or hold messages (the figures
            would include someone else's work), or the workers did not start.
    """
    queues = list(configuration.queues or TOPOLOGY.pool(pool_name).queues)
    with connection() as conn:
        declare_queues(conn, configuration)
        busy = [
            q
            for q, (messages, consumers) in _queue_use(conn, queues).items()
            if consumers or (messages and not backlog)
        ]
    if busy:
        raise BenchError(
            f"queue(s) {', '.join(busy)} already have consumers or messages; stop "
            f"`switchyard run` and purge them: celery -A config.app:app purge -Q {','.join(busy)}"
        )
    supervisor = Supervisor(stack_dir() / "logs" / "bench")
    if configuration.worker_argv:
        supervisor.start(
            f"bench-{configuration.name}",
            list(configuration.worker_argv),
            env=configuration.environment,
        )
    else:
        # Switchyard's own pool as it is deployed: its default replica count, each
        # process connected as the pool's broker user, plus the benchmark's own tasks.
        pool = TOPOLOGY.pool(pool_name)
        for instance in range(configuration.replicas or pool.replicas):
            supervisor.start(
                f"bench-{configuration.name}-{instance}",
                worker_argv(pool, instance),
                env={
                    **pool_worker_env(pool_name),
                    EXTRA_TASK_MODULES_ENV: bench_tasks.__name__,
                    **configuration.environment,
                },
            )
    expected = configuration.consumers or len(supervisor.processes)
    try:
        with connection() as conn:
            ready = backlog or wait_until(
                lambda: (
                    bool(supervisor.dead())
                    or all(
                        consumers >= expected for _, consumers in _queue_use(conn, queues).values()
                    )
                ),
                READY_TIMEOUT_S,
                interval=0.2,
            )
        if not ready or supervisor.dead():
            raise BenchError(
                f"the {configuration.name} workers did not start; see {supervisor.log_dir}"
            )
        yield supervisor
    finally:
        supervisor.stop()


def declare_queues(conn: Connection, configuration: Configuration) -> None:
    """The topology, and the peer's own queues declared as the peer declares them."""
    declare_topology(conn, TOPOLOGY)
    if configuration.declare is not None:
        configuration.declare(conn)
        return
    for name in configuration.queues or ():  # as Celery declares its default queue
        Queue(name, Exchange(name), routing_key=name).bind(conn.default_channel).declare()


def _queue_use(conn: Connection, queues: list[str]) -> dict[str, tuple[int, int]]:
    """(ready messages, consumers) per queue, from a passive declare."""
    channel: Any = conn.channel()
    try:
        return {q: tuple(channel.queue_declare(queue=q, passive=True)[1:]) for q in queues}
    finally:
        channel.close()
