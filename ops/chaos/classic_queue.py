"""What a classic (non-replicated) queue does when the cluster node holding it dies.

`media_heavy` is a classic priority queue (quorum queues refuse `x-max-priority` on
RabbitMQ 3.10), so it lives on one node. This measures, against a real cluster: messages
confirmed into it before the kill, whether it can be read while its node is down, what a
publisher routed to it meanwhile is told, and what is in it once the node is back. Every
connection goes to another node than the queue's, as a client that failed over would.
"""

from __future__ import annotations

from dataclasses import dataclass

import pika
import pika.exceptions

from ops.stack.cluster import RabbitCluster
from routing.names import TASK_EXCHANGE

BEFORE = b"before:"
DURING = b"during:"


@dataclass(frozen=True)
class LostNodeMeasurement:
    queue: str
    home: str
    confirmed_before: int  # confirmed into the queue before its node was killed
    read_while_down: str  # the broker's answer to a consumer while the node is down
    published_while_down: int
    confirmed_while_down: int  # publishes the broker confirmed (no nack, no return)
    kept_before: int  # of the first batch, in the queue once the node is back
    kept_while_down: int  # of the publishes confirmed while down, in the queue once back


def measure(
    cluster: RabbitCluster, broker_urls: dict[str, str], queue: str, messages: int = 50
) -> LostNodeMeasurement:
    """Fill `queue`, SIGKILL its node, publish `messages` more through another node, start
    the node again and count what the queue holds. `broker_urls`: node name -> AMQP URL.
    The queue is purged first and drained at the end."""
    home = next(q.leader for q in cluster.queue_replicas() if q.name == queue)
    other = next(url for name, url in broker_urls.items() if name != home)
    with _Confirming(other) as ch:
        ch.queue_purge(queue)
        before = _publish(ch, queue, BEFORE, messages)
    node = cluster.node(home)
    node.kill()
    try:
        with _Confirming(other) as ch:
            read = _read_answer(ch, queue)
        with _Confirming(other) as ch:
            during = _publish(ch, queue, DURING, messages)
    finally:
        node.start()
    with _Confirming(other) as ch:
        bodies = _drain(ch, queue)
    return LostNodeMeasurement(
        queue,
        home,
        before,
        read,
        messages,
        during,
        sum(b.startswith(BEFORE) for b in bodies),
        sum(b.startswith(DURING) for b in bodies),
    )


class _Confirming:
    """A pika channel with publisher confirms, closed on exit whatever happened."""

    def __init__(self, url: str) -> None:
        self.conn = pika.BlockingConnection(pika.URLParameters(url))

    def __enter__(self) -> pika.adapters.blocking_connection.BlockingChannel:
        channel = self.conn.channel()
        channel.confirm_delivery()
        return channel

    def __exit__(self, *_: object) -> None:
        if self.conn.is_open:
            self.conn.close()


def _publish(
    ch: pika.adapters.blocking_connection.BlockingChannel, queue: str, tag: bytes, count: int
) -> int:
    """Publish persistent, mandatory messages through the task exchange; return how many
    the broker confirmed (a nack or a return raises, and is not counted)."""
    confirmed = 0
    for n in range(count):
        try:
            ch.basic_publish(
                TASK_EXCHANGE,
                queue,
                tag + str(n).encode(),
                pika.BasicProperties(delivery_mode=2, priority=n % 10),
                mandatory=True,
            )
        except (pika.exceptions.NackError, pika.exceptions.UnroutableError):
            continue
        confirmed += 1
    return confirmed


def _read_answer(ch: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> str:
    try:
        method, _, _ = ch.basic_get(queue)
    except pika.exceptions.ChannelClosedByBroker as exc:
        return f"{exc.reply_code} {exc.reply_text.split(' - ')[0]}"
    if method is not None:
        ch.basic_nack(method.delivery_tag, requeue=True)
    return "readable"


def _drain(ch: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> list[bytes]:
    bodies: list[bytes] = []
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body)
