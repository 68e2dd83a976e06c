"""`nnlab db create-reader`: make the PostgreSQL role that arbitrary SQL (nnlab query, the Query page) runs as."""

from __future__ import annotations

import argparse
import sys


def _role_name(value: str) -> str:
    from storage.pg_reader import check_reader_name

    try:
        return check_reader_name(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_create_reader(args) -> int:
    """Create (or reset) the read-only role and print its URL, password masked unless --show-password."""
    from storage.db import check_db_url, mask_url, resolve_db_url
    from storage.pg_reader import create_reader

    admin = check_db_url(resolve_db_url(args.db))
    if not admin.startswith("postgresql"):
        print("nnlab db create-reader: error: --db: needs a PostgreSQL URL of a role that can create roles and "
              "owns the lab's tables (SQLite queries already run on a read-only connection)", file=sys.stderr)
        return 2
    url = create_reader(admin, args.name)
    print(url if args.show_password else mask_url(url))
    if not args.show_password:
        print("(password hidden: run again with --show-password to set a new one and print it; then give the URL "
              "with --query-db or $NNLAB_QUERY_DB)", file=sys.stderr)
    return 0


def add_db_parser(sub, with_db) -> None:
    """Add `nnlab db create-reader` to the subcommands."""
    from storage.pg_reader import DEFAULT_READER

    db = sub.add_parser("db", help="database administration")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    p = with_db(db_sub.add_parser("create-reader", help="create a PostgreSQL role that can only read the lab's tables"))
    p.add_argument("--name", default=DEFAULT_READER, type=_role_name, help=f"role name (default: {DEFAULT_READER})")
    p.add_argument("--show-password", action="store_true", help="print the URL with its password")
    p.set_defaults(fn=cmd_create_reader)
