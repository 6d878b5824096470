"""The backend is selected by its URL scheme, refuses pickle, and its rows match the schema."""

from __future__ import annotations

import os
from dataclasses import fields
from importlib.metadata import entry_points
from typing import Any, Literal

import pytest
from celery import Celery
from celery.app.backends import by_url
from celery.backends.database import DatabaseBackend
from celery.exceptions import ImproperlyConfigured
from kombu.transport.native_delayed_delivery import calculate_routing_key
from sqlalchemy.dialects.postgresql import JSONB

from config.app import selected_backend_url
from config.settings import Settings
from results import BACKEND_SCHEME, store, tables
from results.backend import SwitchyardBackend, _queue_of
from results.chords import Count
from results.connections import ProcessPool
from results.listener import Watch
from results.schema import OWN_TABLES, TASK_RESULT

DATABASE_URL = "postgresql://app:secret@db:5432/switchyard"


def _settings(backend: Literal["switchyard", "stock"]) -> Settings:
    return Settings(_env_file=None, database_url=DATABASE_URL, result_backend=backend)


def _resolve(url: str) -> tuple[type, str]:
    """Celery's lookup of a backend URL (its stubs say a class; it returns class and URL)."""
    resolved: Any = by_url(url)
    cls, rest = resolved
    return cls, str(rest)


def test_setting_selects_switchyard_by_default_and_stock_on_request() -> None:
    assert Settings(_env_file=None).result_backend == "switchyard"
    assert _resolve(selected_backend_url(_settings("switchyard"))) == (
        SwitchyardBackend,
        DATABASE_URL,
    )
    cls, url = _resolve(selected_backend_url(_settings("stock")))
    assert cls is DatabaseBackend
    assert url.startswith("postgresql+psycopg://")


def test_the_scheme_is_the_registered_entry_point() -> None:
    registered = {ep.name: ep.value for ep in entry_points(group="celery.result_backends")}
    assert registered[BACKEND_SCHEME] == "results.backend:SwitchyardBackend"


def test_backend_refuses_a_pickle_serializer() -> None:
    app = Celery(set_as_current=False)
    app.conf.result_serializer = "pickle"
    with pytest.raises(ImproperlyConfigured, match="JSON only"):
        SwitchyardBackend(app=app, url=DATABASE_URL)


def test_backend_uri_hides_the_password() -> None:
    backend = SwitchyardBackend(app=Celery(set_as_current=False), url=DATABASE_URL)
    assert backend.as_uri() == f"{BACKEND_SCHEME}+postgresql://app:**@db:5432/switchyard"


def test_rows_written_and_read_match_the_table() -> None:
    columns = [c.name for c in TASK_RESULT.columns if c.name != "updated_at"]
    assert {f.name for f in fields(store.StateRow)} == set(columns) - {"date_done"}
    assert [f.name for f in fields(store.StoredState)] == columns
    upsert = store.UPSERT_STATE.decode()
    assert all(f'"{c}"' in upsert for c in columns)


def test_the_runtime_names_are_the_declared_tables() -> None:
    """The runtime composes statements from `results.tables`, without SQLAlchemy."""
    declared = tuple(t.name for t in OWN_TABLES)
    assert declared == tables.OWN_TABLES
    json_columns = {c.name for c in TASK_RESULT.columns if isinstance(c.type, JSONB)}
    assert json_columns == tables.TASK_JSON_COLUMNS


def test_every_table_can_expire_through_an_index() -> None:
    for table in OWN_TABLES:
        indexed = {c.name for index in table.indexes for c in index.columns}
        assert "updated_at" in indexed, table.name


def test_queue_is_recovered_from_a_delayed_routing_key() -> None:
    assert _queue_of(calculate_routing_key(5, "default")) == "default"
    assert _queue_of("default") == "default"
    assert _queue_of(None) is None


@pytest.mark.parametrize(
    ("count", "completes"),
    [
        (Count(done=3, size=3, counted=True), True),
        (Count(done=3, size=3, counted=False), False),  # a duplicate of a counted task
        (Count(done=3, size=None, counted=True), False),  # size not announced yet
        (Count(done=4, size=3, counted=True), False),  # a late duplicate after the body
        (Count(done=2, size=3, counted=True), False),
    ],
)
def test_exactly_one_completion_sends_the_body(count: Count, completes: bool) -> None:
    assert count.completes is completes


def test_watch_hands_over_notified_ids_and_resync_once() -> None:
    watch = Watch(["a", "b"])
    watch._notify("a", '{"state": "SUCCESS"}')
    watch._notify("b", None)
    assert watch.take(0) == ({"a": '{"state": "SUCCESS"}', "b": None}, False)
    assert watch.take(0) == ({}, False)
    watch._request_resync()
    assert watch.take(0) == ({}, True)


def test_a_forked_child_gets_a_free_lock() -> None:
    pool = ProcessPool(DATABASE_URL)  # never opened: no connection is made
    pool._lock.acquire()  # as a parent thread might hold it at the moment of a fork
    pid = os.fork()
    if pid == 0:  # the child: it must not wait for a thread that does not exist here
        os._exit(0 if pool._lock.acquire(timeout=2) else 1)
    pool._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
