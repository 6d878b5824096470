"""The RabbitMQ operators' published schemas (vendored under schemas/rabbitmq/), and a check
of rendered rabbitmq.com objects against them with jsonschema.

The CRDs' openAPIV3Schema parts are vendored as JSON, one file per kind, each naming its
source repository, path, commit and licence (MPL-2.0). The API server prunes fields a
structural schema does not name; here such a field is an error instead, as
`kubectl apply --validate=strict` reports it, so a misspelt key cannot vanish silently.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.chart.rendering import Manifest

SCHEMAS = Path(__file__).parent / "schemas" / "rabbitmq"
GROUP = "rabbitmq.com"
KINDS = frozenset(
    {"RabbitmqCluster", "Exchange", "Queue", "Binding", "User", "Permission", "TopicPermission"}
)


def _strict(schema: Any) -> Any:
    """The schema with unknown properties refused wherever it lists properties and does not
    preserve unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _validator(kind: str) -> jsonschema.Draft7Validator:
    vendored = json.loads((SCHEMAS / f"{kind.lower()}.json").read_text())
    # The operator defines metadata as a bare object; the Kubernetes schemas check it.
    return jsonschema.Draft7Validator(_strict(vendored["openAPIV3Schema"]))


def is_rabbitmq(obj: Manifest) -> bool:
    return str(obj.get("apiVersion", "")).split("/")[0] == GROUP


def validate(obj: Manifest) -> str | None:
    """None when `obj` matches its kind's schema, else every error, one per line."""
    kind = obj.get("kind", "")
    if obj.get("apiVersion") != f"{GROUP}/v1beta1" or kind not in KINDS:
        return f"no schema for {obj.get('apiVersion')} {kind}"
    errors = sorted(
        _validator(kind).iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if not errors:
        return None
    return "\n".join(
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors
    )
