"""A small YAML writer for the generated rule files: block style, every string quoted.

Enough for Prometheus rule files and promtool test files (mappings, lists, strings,
numbers) without a YAML dependency; a JSON-quoted string is a valid YAML scalar.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def dump(document: Mapping[str, Any]) -> str:
    """The document as YAML text, keys in the order given."""
    return "\n".join(_mapping(document, 0)) + "\n"


def _mapping(data: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if _is_block(value) and value:
            lines.append(f"{pad}{key}:")
            lines.extend(_block(value, indent + 2))
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return lines


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if _is_block(item) and item:
            nested = _block(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _block(value: Any, indent: int) -> list[str]:
    return _mapping(value, indent) if isinstance(value, Mapping) else _sequence(value, indent)


def _is_block(value: Any) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str)
    )


def _scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if '"' in text and "'" not in text and text.isprintable():
        return f"'{text}'"  # PromQL reads better without escaped quotes
    return json.dumps(text)
