"""`producer.fast_apply` on the real broker: the message is Celery's, every call arrives once,
a nack raises what Celery raises, and what the fast path does not cover goes to Celery."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery.result import EagerResult
from kombu import Connection
from kombu.exceptions import OperationalError
from prometheus_client import REGISTRY

from config.app import app
from config.settings import Settings
from execution.fast_send import install_fast_send
from metrics import definitions as d
from metrics.producer import PUBLISHED_AT_HEADER
from ops.supervisor import Supervisor
from producer.fast_apply import FastApply, install
from tests.integration.conftest import queue_depth, start_pool
from tests.integration.refusal_support import FILLER, refusing_queue
from tests.tasks.probes import echo, spawn

pytestmark = pytest.mark.integration

QUEUE = "default"  # where `echo` is routed
# What differs between two messages of one shape with the same arguments.
PER_MESSAGE_HEADERS = frozenset(("id", "root_id", PUBLISHED_AT_HEADER))
PROPERTIES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)
THREADS, CALLS_PER_THREAD = 4, 25
RESULT_TIMEOUT_S = 60
CONFIRM_TIMEOUT_S = 10.0  # a lost confirm fails a test sooner than the default


@pytest.fixture
def fast(broker: Connection) -> Iterator[FastApply]:
    """The fast path installed on the app for one test, and Celery's own path after it."""
    sender = install(app, confirm_timeout_s=CONFIRM_TIMEOUT_S)
    yield sender
    install_fast_send(app, None)
    sender.close()


def _take_all(amqp: Any) -> list[tuple[Any, bytes]]:
    """Every message in the queue, in order: (pika properties, body)."""
    taken: list[tuple[Any, bytes]] = []
    while True:
        method, properties, body = amqp.basic_get(QUEUE, auto_ack=True)
        if method is None:
            return taken
        taken.append((properties, body))


def _by_id(messages: list[tuple[Any, bytes]]) -> dict[str, tuple[Any, bytes]]:
    return {properties.headers["id"]: (properties, body) for properties, body in messages}


def _sent_count() -> float:
    """`tasks sent` for `echo` on its queue, as this process's registry holds it."""
    labels = dict(zip(d.TASK_SENT.labels, (echo.name, QUEUE), strict=True))
    return REGISTRY.get_sample_value(d.TASK_SENT.name, labels) or 0.0


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("same",), {"pause_s": 0.0}), (["same", 0.5], None), (("x" * 300,), {})],
    ids=["tuple and dict", "list and none", "a long repr"],
)
def test_a_stamped_message_equals_celerys_own(
    fast: FastApply, amqp: Any, args: Any, kwargs: Any
) -> None:
    install_fast_send(app, None)
    celery = echo.apply_async(args, kwargs)  # Celery's own path
    install_fast_send(app, fast)
    echo.apply_async(("other",), {"pause_s": 0.0})  # first of the shape: Celery, template kept
    stamped = echo.apply_async(args, kwargs)
    assert fast.stamped_sent == 1  # the third call was the fast path's, not Celery's

    messages = _by_id(_take_all(amqp))
    assert len(messages) == 3
    (ours, our_body), (theirs, their_body) = messages[stamped.id], messages[celery.id]
    assert our_body == their_body
    for name in PROPERTIES:
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.correlation_id == stamped.id
    assert set(ours.headers) == set(theirs.headers)
    for name in set(theirs.headers) - PER_MESSAGE_HEADERS:
        assert ours.headers[name] == theirs.headers[name], name
    assert ours.headers["root_id"] == stamped.id
    assert ours.headers[PUBLISHED_AT_HEADER] >= theirs.headers[PUBLISHED_AT_HEADER]
    assert type(stamped) is type(celery)
    assert (stamped.backend, stamped.ignored) == (celery.backend, celery.ignored)


def test_threads_calls_each_arrive_exactly_once(fast: FastApply, amqp: Any) -> None:
    echo.apply_async(("template",))  # the shape's first call, through Celery
    sent: dict[str, str] = {}  # task id -> thread's reply_to (app.thread_oid)
    errors: list[BaseException] = []

    def call(n: int) -> None:
        try:
            for i in range(CALLS_PER_THREAD):
                sent[echo.apply_async((f"{n}-{i}",)).id] = app.thread_oid
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fast.stamped_sent == THREADS * CALLS_PER_THREAD
    messages = _take_all(amqp)
    arrived = [properties.headers["id"] for properties, _ in messages[1:]]
    assert len(arrived) == THREADS * CALLS_PER_THREAD  # none twice, none lost
    assert set(arrived) == set(sent)
    by_id = _by_id(messages)
    assert all(by_id[task_id][0].reply_to == oid for task_id, oid in sent.items())
    assert len(set(sent.values())) == THREADS


def test_a_worker_runs_fast_path_tasks_and_their_results_are_kept(
    fast: FastApply, supervisor: Supervisor
) -> None:
    start_pool(supervisor, QUEUE)
    results = [echo.apply_async((f"v{i}",)) for i in range(10)]
    assert fast.stamped_sent == 9
    assert [r.get(timeout=RESULT_TIMEOUT_S) for r in results] == [f"v{i}" for i in range(10)]


def test_a_nack_raises_what_celery_raises_and_nothing_is_queued(
    fast: FastApply, settings: Settings, amqp: Any
) -> None:
    accepted = echo.apply_async(("before",))  # the shape's template, taken by the queue
    _take_all(amqp)
    with refusing_queue(settings, amqp, QUEUE):
        install_fast_send(app, None)
        with pytest.raises(OperationalError) as celerys:  # what kombu makes of the nack
            echo.apply_async(("refused",))
        install_fast_send(app, fast)
        with pytest.raises(OperationalError) as ours:
            echo.apply_async(("refused",))
        with pytest.raises(OperationalError) as first:  # a new shape: Celery on our channel
            echo.apply_async(("refused",), ignore_result=True)
        assert fast.stamped_sent == 0
        assert type(ours.value) is type(celerys.value)
        assert type(first.value) is type(celerys.value)
        assert [body for _, body in _take_all(amqp)] == [FILLER]  # nothing of ours queued
    after = echo.apply_async(("after",))  # the check can fail: without the policy it is taken
    assert fast.stamped_sent == 1
    assert [p.headers["id"] for p, _ in _take_all(amqp)] == [after.id]
    assert accepted.id != after.id


def _send_from_child(fast: FastApply, out: Any) -> None:
    """In a forked child: one call, then what the child's sender saw."""
    task_id = echo.apply_async(("child",)).id
    out.put((task_id, fast.stamped_sent))


def test_a_forked_child_sends_on_its_own_connection(fast: FastApply, amqp: Any) -> None:
    """Were the parent's connection shared, the broker's delivery tags of its channel would
    run ahead of the parent's count and the parent's next call would never see its ack."""
    echo.apply_async(("template",))
    echo.apply_async(("parent-1",))  # the parent's connection is open and in use
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_send_from_child, args=(fast, out))
    child.start()
    child_id, child_stamped = out.get(timeout=RESULT_TIMEOUT_S)
    child.join(RESULT_TIMEOUT_S)
    assert child.exitcode == 0
    assert child_stamped == 2  # the parent's one, then the child's own, confirmed
    parent_2 = echo.apply_async(("parent-2",))
    assert fast.stamped_sent == 2  # the parent's own tags still line up with the broker's
    arrived = [p.headers["id"] for p, _ in _take_all(amqp)]
    assert len(arrived) == 4
    assert {child_id, parent_2.id} <= set(arrived)


def test_fallbacks_go_through_celery(fast: FastApply, amqp: Any) -> None:
    echo.apply_async(("template",))
    _take_all(amqp)
    # A timed option (countdown and eta alike, `templated_options`); an expiry arrives at
    # once, where a delayed message would arrive in some later test's queue.
    expiring = echo.apply_async(("soon",), expires=60)
    assert fast.stamped_sent == 0
    assert _by_id(_take_all(amqp))[expiring.id][0].headers["expires"] is not None

    app.conf.task_always_eager = True
    try:
        eager = echo.apply_async(("here",))
    finally:
        app.conf.task_always_eager = False
    assert isinstance(eager, EagerResult)
    assert eager.get() == "here"

    parent = spawn.apply(("child",))  # runs here as a worker runs it; sends from inside
    child_id = parent.get()
    assert fast.stamped_sent == 0
    child = _by_id(_take_all(amqp))[child_id][0]
    assert child.headers["parent_id"] == parent.id
    assert child.headers["root_id"] == parent.id

    echo.apply_async(("now",))  # the check can fail: a plain call is the fast path's
    assert fast.stamped_sent == 1


def test_bad_arguments_raise_what_celery_raises(fast: FastApply, amqp: Any) -> None:
    echo.apply_async(("template",))

    def not_json() -> None:
        echo.apply_async((object(),))

    def too_many() -> None:
        echo.delay(1, 2, 3)

    for bad_call in (not_json, too_many):
        install_fast_send(app, None)
        with pytest.raises(Exception) as celerys:  # noqa: PT011 - whatever Celery raises
            bad_call()
        install_fast_send(app, fast)
        with pytest.raises(type(celerys.value)) as ours:
            bad_call()
        assert str(ours.value) == str(celerys.value)
    assert fast.stamped_sent == 0
    assert queue_depth(amqp, QUEUE) == 1  # the template's call only


def test_tasks_sent_counts_fast_path_publishes(fast: FastApply, amqp: Any) -> None:
    before = _sent_count()
    for i in range(5):
        echo.apply_async((i,))
    assert fast.stamped_sent == 4
    assert _sent_count() - before == 5
    assert queue_depth(amqp, QUEUE) == 5
