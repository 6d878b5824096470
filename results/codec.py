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


class ResultEncodeError(TypeError):
    """A task result JSON cannot encode; the task is stored as FAILURE with this error."""


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
