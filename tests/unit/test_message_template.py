"""A stamped message is the message Celery's own `as_task_v2` builds, ids and arguments aside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from celery import Celery, chain
from celery.utils.saferepr import saferepr
from kombu.utils.json import dumps

from producer.message_template import HEADERS, MessageTemplate, Reprs, _repr, shape_key

ARGS_CASES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    ((1, 2.5, "é", None, True), {}),
    ((), {"nested": {"list": [1, (2, 3)], "text": "x" * 2000}}),
    (([1, 2], {"a": 1}), {"flag": False}),
]


@pytest.fixture
def app() -> Celery:
    celery = Celery("unit", set_as_current=False)
    celery.conf.update(broker_url="memory://", task_serializer="json")

    @celery.task(name="unit.add", shared=False)
    def add(*values: Any, **options: Any) -> Any:
        return values

    @celery.task(name="unit.pair", shared=False)
    def pair(left: int, right: int) -> int:
        return left + right

    return celery


def _celery_message(app: Celery, task_id: str, args: Any, kwargs: Any, **options: Any) -> Any:
    """What Celery builds for `unit.add` (origin and reply_to fixed, as in one process)."""
    return app.amqp.as_task_v2(
        task_id, "unit.add", args, kwargs, origin="gen1@host", reply_to="reply-1", **options
    )


def _template(app: Celery, **options: Any) -> MessageTemplate:
    message = _celery_message(app, "template-id", (7,), {"k": 1}, **options)
    template = MessageTemplate.from_message(
        app, message.headers, _with_content_type(message.properties), dumps(message.body)
    )
    assert template is not None
    return template


def _with_content_type(properties: dict[str, Any]) -> dict[str, Any]:
    return {**properties, "content_type": "application/json", "content_encoding": "utf-8"}


@pytest.mark.parametrize(("args", "kwargs"), ARGS_CASES)
def test_a_stamped_message_is_what_celery_builds(
    app: Celery, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    template = _template(app)
    stamped = template.stamp("new-id", args, kwargs)
    expected = _celery_message(app, "new-id", args, kwargs)
    assert stamped.properties[HEADERS] == expected.headers
    properties = {k: v for k, v in stamped.properties.items() if k != HEADERS}
    assert properties == _with_content_type(expected.properties)
    assert stamped.body == dumps(expected.body).encode()


def test_callbacks_and_the_callers_root_are_kept(app: Celery) -> None:
    link = [app.signature("unit.pair", (1,)).set(queue="q")]
    options = {"callbacks": link, "root_id": "root-1", "parent_id": "parent-1"}
    stamped = _template(app, **options).stamp("new-id", (1, 2), {})
    expected = _celery_message(app, "new-id", (1, 2), {}, **options)
    assert stamped.properties[HEADERS] == expected.headers
    assert stamped.properties[HEADERS]["root_id"] == "root-1"
    assert stamped.body == dumps(expected.body).encode()


@pytest.mark.parametrize(
    "options",
    [{"eta": datetime(2030, 1, 1, tzinfo=UTC)}, {"countdown": 30}, {"expires": 60}],
)
def test_a_message_that_depends_on_when_it_is_built_gets_no_template(
    app: Celery, options: dict[str, Any]
) -> None:
    message = _celery_message(app, "id", (), {}, **options)
    template = MessageTemplate.from_message(
        app, message.headers, _with_content_type(message.properties), dumps(message.body)
    )
    assert template is None


def test_a_task_with_a_custom_shadow_name_gets_no_template(app: Celery) -> None:
    @app.task(name="unit.shadowed", shadow_name=lambda *a: "other", shared=False)
    def shadowed() -> None:
        """Named after its arguments in logs: the name header depends on them."""

    message = app.amqp.as_task_v2("id", "unit.shadowed", (), {})
    template = MessageTemplate.from_message(
        app, message.headers, _with_content_type(message.properties), dumps(message.body)
    )
    assert template is None


def test_arguments_are_checked_as_apply_async_checks_them(app: Celery) -> None:
    message = app.amqp.as_task_v2("id", "unit.pair", (1, 2), {})
    template = MessageTemplate.from_message(
        app, message.headers, _with_content_type(message.properties), dumps(message.body)
    )
    assert template is not None
    with pytest.raises(TypeError):
        template.stamp("other", (1, 2, 3), {})


def test_shapes_differ_by_task_and_options_but_not_by_id(app: Celery) -> None:
    base = app.signature("unit.add", (1,))
    assert shape_key(base.clone(args=(2,))) == shape_key(base.clone().set(task_id="x"))
    assert shape_key(base) != shape_key(base.clone().set(priority=3))
    assert shape_key(app.signature("unit.pair")) != shape_key(base)
    assert shape_key(chain(base, base)) is None
    given_reprs = base.clone()
    given_reprs.options["argsrepr"] = "(secret,)"
    assert shape_key(given_reprs) is None


@pytest.mark.parametrize(
    "value",
    [
        {"x": 1, "y": 2},
        {"text": 'it\'s "quoted"\nwith a newline and é', "n": None, "f": 2.5, "b": True},
        (1,),
        (1, "two", 3.0, False, None),
        {"long": "x" * 1021},
        {"long": "x" * 2000},
        {"nested": {"a": [1, 2]}},
        (b"bytes",),
        {1: "int key"},
    ],
)
def test_the_argument_reprs_are_celerys_saferepr(app: Celery, value: Any) -> None:
    """The shortcut for flat arguments writes what `saferepr` writes, truncation included."""
    reprs = Reprs.of(app)
    expected = saferepr(value, reprs.kwargs_maxsize, maxlevels=reprs.maxlevels)
    assert _repr(value, "{}", reprs.kwargs_maxsize, reprs) == expected
