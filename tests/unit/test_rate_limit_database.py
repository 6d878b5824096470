"""The shared rate limit finds its buckets' database whichever result backend is selected."""

from __future__ import annotations

import pytest
from celery import Celery
from celery.exceptions import ImproperlyConfigured

from execution.shared_rate_limit import BUCKET_DATABASE_KEY, bucket_pool
from results.connections import ProcessPool

# Any backend but Switchyard's (Celery's database backend would connect on creation).
OTHER_BACKEND = "cache+memory://"
URL = "postgresql://switchyard:secret@127.0.0.1:5440/switchyard"


def _app(**conf: object) -> Celery:
    app = Celery("rate-limit-database", set_as_current=False)
    app.conf.update(conf)
    return app


def test_the_switchyard_backend_lends_its_own_pool() -> None:
    app = _app(result_backend=f"switchyard+{URL}")
    assert bucket_pool(app, "t") is getattr(app.backend, "pool")  # noqa: B009


def test_on_another_backend_the_buckets_use_the_configured_database() -> None:
    app = _app(result_backend=OTHER_BACKEND, **{BUCKET_DATABASE_KEY: URL})
    pool = bucket_pool(app, "t")
    assert isinstance(pool, ProcessPool)
    assert pool.url == URL


def test_without_any_database_the_error_names_the_task_and_the_setting() -> None:
    app = _app(result_backend=OTHER_BACKEND)
    with pytest.raises(ImproperlyConfigured, match=f"task t: .*{BUCKET_DATABASE_KEY}"):
        bucket_pool(app, "t")
