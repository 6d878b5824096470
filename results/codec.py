"""JSON in, JSON out: the only codec results are ever stored or read with.

Celery's stock database backend pickles results whatever the serializer, so write access to
its table is code execution for every reader. Here a value is JSON (with kombu's markers for
datetimes, UUIDs, decimals and bytes, exactly as the `json` task serializer encodes them) or
it is refused with `ResultEncodeError`; nothing read back is ever unpickled.
"""

from __future__ import annotations

from typing import Any

from kombu.utils import json as kombu_json

JSON_TYPES_HINT = "return JSON types (dict, list, str, int, float, bool, None)"
# Bounds of what one task may store: a result above the first is refused; an exception's
# message and a traceback are cut to the others (a 50 MB argument echoed in an error
# message would otherwise be stored twice, and read back by every waiter).
RESULT_MAX_BYTES = 1024 * 1024
EXCEPTION_MESSAGE_MAX_CHARS = 4096
TRACEBACK_MAX_CHARS = 16384


class ResultEncodeError(TypeError):
    """A task result JSON cannot encode; the task is stored as FAILURE with this error."""


class ResultTooLarge(ResultEncodeError):
    """A task result above `RESULT_MAX_BYTES`; stored as FAILURE with this error instead."""


def bounded_text(text: str, limit: int) -> str:
    """`text`, or its head and tail around a note of how much was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}... [{len(text) - 2 * half} characters cut] ...{text[-half:]}"


def bounded_exception(meta: Any) -> Any:
    """An encoded exception (`exc_type`, `exc_message`, ...) with each string argument of
    its message cut to `EXCEPTION_MESSAGE_MAX_CHARS`; anything else unchanged."""
    if not isinstance(meta, dict) or "exc_message" not in meta:
        return meta
    message = meta["exc_message"]
    if isinstance(message, list | tuple):
        message = [
            bounded_text(m, EXCEPTION_MESSAGE_MAX_CHARS) if isinstance(m, str) else m
            for m in message
        ]
    elif isinstance(message, str):
        message = bounded_text(message, EXCEPTION_MESSAGE_MAX_CHARS)
    return {**meta, "exc_message": message}


def check_result_size(text: str) -> str:
    """Raises:
    ResultTooLarge: naming the size and the limit."""
    if len(text) > RESULT_MAX_BYTES:
        raise ResultTooLarge(
            f"result of {len(text)} characters exceeds the {RESULT_MAX_BYTES} a task may "
            "store; store large outputs elsewhere and return a reference to them"
        )
    return text


def encode(value: Any) -> str:
    """JSON text for `value`.

    Raises:
        ResultEncodeError: the value (or something inside it) has no JSON form, or is a
            float JSON cannot hold (NaN, infinity).
    """
    try:
        return str(kombu_json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ResultEncodeError(
            f"result is not JSON-serializable: {exc}; {JSON_TYPES_HINT}"
        ) from None


def decode(text: str | None) -> Any:
    """The value stored as `text` (None for SQL NULL); JSON only, whatever its content."""
    return None if text is None else kombu_json.loads(text)
