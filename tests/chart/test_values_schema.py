"""values.schema.json documents every key and refuses unknown ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from tests.chart.rendering import CHART, Helm

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path, following properties, definitions and items."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key in ("properties", "definitions"):
        for name, child in node.get(key, {}).items():
            yield from _nodes(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _nodes(node[key], f"{path}[]")


def test_every_key_has_a_description() -> None:
    missing = [
        f"{path}.{name}"
        for path, node in _nodes(SCHEMA)
        for name, child in node.get("properties", {}).items()
        if not child.get("description")
    ]
    assert missing == []


def test_every_object_with_keys_refuses_unknown_keys() -> None:
    open_objects = [
        path
        for path, node in _nodes(SCHEMA)
        if "properties" in node and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_every_default_value_is_declared() -> None:
    """Walks values.yaml: each key is in the schema (helm would refuse it otherwise)."""

    def declared(values: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
        if "$ref" in schema:
            schema = SCHEMA["definitions"][schema["$ref"].rsplit("/", 1)[1]]
        props = schema.get("properties")
        if props is None:
            return []
        unknown = []
        for key, value in values.items():
            if key not in props:
                unknown.append(f"{path}.{key}")
            elif isinstance(value, dict):
                unknown += declared(value, props[key], f"{path}.{key}")
        return unknown

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert declared(values, SCHEMA, "") == []


def test_helm_refuses_an_unknown_key(helm: Helm) -> None:
    error = helm.template_error(sets=["workers.defaults.replicaz=3"])
    assert "replicaz" in error


def test_helm_refuses_a_wrong_autoscaler_kind(helm: Helm) -> None:
    error = helm.template_error(sets=["workers.defaults.autoscaling.kind=vpa"])
    assert "vpa" in error or "kind" in error
