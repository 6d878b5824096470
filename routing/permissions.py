"""What each pool's broker user may do, derived from the declaration.

A worker connects as its pool's own user, allowed to consume only its pool's queues and to
publish task messages only under its queues' routing keys (plus the queues the pool declares
in `sends_to`). One shared topic exchange carries every queue's tasks, so the publish limit is
a RabbitMQ topic permission on the routing key; a worker sending to another pool's queue gets
ACCESS_REFUSED. The same limit covers the delay exchange, whose routing keys are the task's
own key behind the delay bits, so a countdown cannot be a way round it.

The delay exchanges and queues are declared by `switchyard topology declare`, not by
workers: each delay level is an exchange and a queue of the same name, and permissions do not
tell the two apart, so a user allowed to declare them could also publish into any level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kombu.transport.native_delayed_delivery import CELERY_DELAYED_DELIVERY_EXCHANGE

from routing import names
from routing.model import PoolSpec, Topology

# Celery's remote-control plumbing: the broadcast exchange every worker's control queue is
# bound to, and the exchange its replies go to.
CONTROL_EXCHANGE = "celery.pidbox"
CONTROL_REPLY_EXCHANGE = "reply.celery.pidbox"
# Task events (`--task-events`, for Flower) go to this exchange.
EVENT_EXCHANGE = "celeryev"


@dataclass(frozen=True)
class PoolPermissions:
    """One pool user's vhost permissions (regexes) and its topic permissions per exchange."""

    user: str
    configure: str
    write: str
    read: str
    topic_write: dict[str, str]
    # Topic read permissions only limit consumers of other protocols (MQTT, STOMP); AMQP
    # workers consume from their queues, which `read` above already limits.
    topic_read: str = ".*"


def pool_permissions(pool: PoolSpec) -> PoolPermissions:
    """The least a worker of `pool` needs: consume its queues, declare what it declares,
    publish retries, countdowns and dead letters of its own tasks, answer control commands."""
    own = [re.escape(q) for q in pool.queues]
    sendable = own + [re.escape(q) for q in pool.sends_to]
    control_queue = re.escape(f"{pool.name}@") + r".+\.celery\.pidbox"
    tasks, dlx = re.escape(names.TASK_EXCHANGE), re.escape(names.DEAD_LETTER_EXCHANGE)
    control, reply = re.escape(CONTROL_EXCHANGE), re.escape(CONTROL_REPLY_EXCHANGE)
    events = re.escape(EVENT_EXCHANGE)
    delivery = re.escape(CELERY_DELAYED_DELIVERY_EXCHANGE)
    routing_keys = _any_of(sendable)
    return PoolPermissions(
        user=names.pool_broker_user(pool.name),
        configure=_any_of([*own, control_queue, tasks, control, reply, events]),
        write=_any_of(
            [*own, control_queue, tasks, dlx, reply, events, re.escape(names.DELAY_ENTRY_EXCHANGE)]
        ),
        read=_any_of([*own, control_queue, tasks, control, delivery]),
        topic_write={
            names.TASK_EXCHANGE: routing_keys,
            names.DELAY_ENTRY_EXCHANGE: names.DELAY_PREFIX_PATTERN + routing_keys.removeprefix("^"),
        },
    )


NOTHING = "^$"


def producer_permissions(topology: Topology) -> PoolPermissions:
    """The producer API's user: publish tasks to the task exchange (directly, or behind a
    countdown through the delay entry exchange) under declared queues' keys; nothing else.

    It declares nothing and reads nothing: the topology is declared by `topology declare`,
    and results are read from the database.
    """
    routing_keys = _any_of([re.escape(q.name) for q in topology.queues])
    tasks, delay = re.escape(names.TASK_EXCHANGE), re.escape(names.DELAY_ENTRY_EXCHANGE)
    return PoolPermissions(
        user=names.PRODUCER_BROKER_USER,
        configure=NOTHING,
        write=_any_of([tasks, delay]),
        read=NOTHING,
        topic_write={
            names.TASK_EXCHANGE: routing_keys,
            names.DELAY_ENTRY_EXCHANGE: names.DELAY_PREFIX_PATTERN + routing_keys.removeprefix("^"),
        },
    )


def _any_of(patterns: list[str]) -> str:
    return "^(?:" + "|".join(patterns) + ")$"
