"""Results are JSON both ways; what JSON cannot hold is refused, nothing is ever unpickled."""

from __future__ import annotations

import pickle
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from results import codec


def test_json_types_and_kombus_markers_round_trip() -> None:
    value = {
        "list": [1, 2.5, "x", None, True],
        "when": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        "amount": Decimal("10.25"),
        "id": uuid.UUID(int=7),
        "raw": b"bytes",
    }
    assert codec.decode(codec.encode(value)) == value


@pytest.mark.parametrize(
    "value", [{1, 2}, float("nan"), float("inf"), object(), {"nested": [frozenset()]}]
)
def test_what_json_cannot_hold_is_refused_with_a_hint(value: object) -> None:
    with pytest.raises(codec.ResultEncodeError, match="JSON types"):
        codec.encode(value)


def test_a_pickle_is_never_loaded() -> None:
    payload = pickle.dumps({"would": "unpickle"}, protocol=0).decode("latin-1")
    with pytest.raises(ValueError, match="Expecting value"):
        codec.decode(payload)


def test_sql_null_is_none() -> None:
    assert codec.decode(None) is None
