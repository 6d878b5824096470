"""`switchyard db migrate`: create or update the result tables as the owner role."""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from config.settings import get_settings
from ops.management_api import redact


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("db", help="the result database")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("migrate", help="create or update the schema (idempotent)").set_defaults(
        handler=_migrate
    )


def _migrate(_: argparse.Namespace) -> int:
    from results.schema import migrate  # imported late: SQLAlchemy only for this command

    settings = get_settings()
    settings.require("migration_database_url")
    runtime_role = urlsplit(settings.database_url).username if settings.database_url else None
    for line in migrate(settings.migration_database_url, runtime_role):
        print(line)
    print(f"schema up to date at {redact(settings.migration_database_url)}")
    return 0
