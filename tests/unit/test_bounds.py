"""What one task may leave behind is bounded: stored errors, tracebacks, log lines."""

from __future__ import annotations

import io
import logging

import pytest

from execution.bounded_logs import LOG_MESSAGE_MAX_CHARS, BoundedRecords
from ops.fake_services import most_in_window
from results import codec

BIG = "u" * 5_000_000


def test_an_exception_message_is_stored_cut() -> None:
    meta = {"exc_type": "ValueError", "exc_message": [BIG, 3], "exc_module": "builtins"}
    bounded = codec.bounded_exception(meta)
    first = bounded["exc_message"][0]
    assert len(first) < codec.EXCEPTION_MESSAGE_MAX_CHARS + 100
    assert "characters cut" in first
    assert bounded["exc_message"][1] == 3
    assert codec.bounded_exception({"plain": BIG}) == {"plain": BIG}  # not an exception


def test_a_result_above_the_bound_is_refused_with_a_clear_error() -> None:
    with pytest.raises(codec.ResultTooLarge, match="exceeds the 1048576 a task may store"):
        codec.check_result_size(codec.encode(BIG))
    small = codec.encode({"ok": True})
    assert codec.check_result_size(small) == small


def test_log_records_are_cut_with_their_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(BoundedRecords())
    log = logging.getLogger("test-bounds")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("retry: %s", BIG)
        try:
            raise ValueError(BIG)
        except ValueError:
            log.exception("failed")
        log.error("short %s", "line")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert len(text) < 2 * LOG_MESSAGE_MAX_CHARS + codec.TRACEBACK_MAX_CHARS
    assert text.count("characters cut") == 2
    assert "short line" in text


def test_the_window_count_sees_an_unshared_limit() -> None:
    """Three workers each keeping 10/m on their own: three calls every 6 s, 30 a minute."""
    calls = [t * 6.0 + w * 0.1 for t in range(20) for w in range(3)]
    assert most_in_window(calls, 60) == 30
    shared = [t * 6.0 for t in range(20)]
    assert most_in_window(shared, 60) == 10
    assert most_in_window([], 60) == 0


def test_a_deferred_copy_forgets_its_trips_through_the_delay_queues_only() -> None:
    """RabbitMQ drops a message whose `x-death` shows the delay queue it is about to die in
    again; a death in a real dead-letter path is history worth keeping."""
    from execution.shared_rate_limit import without_delay_deaths

    real = {"queue": "webhooks", "reason": "rejected", "count": 1}
    headers = {
        "id": "t1",
        "x-death": [{"queue": "celery_delayed_2", "reason": "expired", "count": 1}, real],
        "x-first-death-queue": "celery_delayed_2",
        "x-last-death-queue": "celery_delayed_2",
    }
    assert without_delay_deaths(headers) == {"id": "t1", "x-death": [real]}
    assert without_delay_deaths({"id": "t2"}) == {"id": "t2"}
