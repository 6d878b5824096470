"""`switchyard db migrate [--sql]`: upgrade the result tables to the newest migration."""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from config.settings import get_settings
from routing.management_api import redact


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("db", help="the result database")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = actions.add_parser(
        "migrate",
        help="upgrade the schema to the newest migration as the owner role (idempotent)",
    )
    migrate.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL instead of running it (for a DBA); contacts no database",
    )
    migrate.add_argument(
        "--from",
        dest="from_revision",
        metavar="REV",
        help="with --sql: the revision the database is at (default: an empty database)",
    )
    migrate.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    # Imported late: SQLAlchemy and Alembic load only for this command.
    from results.migration import MigrationError, migrate, migration_sql

    settings = get_settings()
    runtime_role = urlsplit(settings.database_url).username if settings.database_url else None
    if args.from_revision and not args.sql:
        print("switchyard: --from goes with --sql; a database knows its revision", file=sys.stderr)
        return 2
    if not args.sql:
        settings.require("migration_database_url")
    try:
        if args.sql:
            print(migration_sql(args.from_revision, runtime_role), end="")
            return 0
        lines = migrate(settings.migration_database_url, runtime_role)
    except MigrationError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print(f"schema up to date at {redact(settings.migration_database_url)}")
    return 0
