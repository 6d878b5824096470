"""Log records cut to a bound, so one argument cannot make a log line of megabytes.

Celery bounds the argument reprs it logs (`argsrepr`, 1,024 characters) but not an
exception's message: a task retried on an error that quotes its 50 MB argument logs 50 MB
per retry (one worker log reached 263 MB). A filter on the worker's handlers cuts every
record's message and traceback to a bound, keeping head and tail.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from results.codec import TRACEBACK_MAX_CHARS, bounded_text

LOG_MESSAGE_MAX_CHARS = 8192


class BoundedRecords(logging.Filter):
    """Cuts a record's message and exception text; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if len(message) > LOG_MESSAGE_MAX_CHARS:
            record.msg, record.args = bounded_text(message, LOG_MESSAGE_MAX_CHARS), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if len(text) > TRACEBACK_MAX_CHARS:
                record.exc_text = bounded_text(text, TRACEBACK_MAX_CHARS)
        return True


def bound_handlers(logger: logging.Logger | None = None, **_: Any) -> None:
    """Put the filter on every handler of `logger` (a `setup_logger` signal receiver)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, BoundedRecords) for f in handler.filters):
            handler.addFilter(BoundedRecords())


def install_bounded_logs() -> None:
    """Bound the worker's and the task logger's handlers once Celery has set them up."""
    signals.after_setup_logger.connect(bound_handlers, weak=False)
    signals.after_setup_task_logger.connect(bound_handlers, weak=False)
