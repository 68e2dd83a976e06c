"""`nnlab db create-reader`: a PostgreSQL role that can only SELECT the lab's tables, for arbitrary SQL.

The role gets SELECT on every table of the lab's schema now, and, through ALTER DEFAULT PRIVILEGES for
the role that owns the tables (the one migrations run as), on every table later migrations add. It
logs in read-only by default, with a statement timeout, and cannot create anything.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import text
from sqlalchemy.engine import make_url

from .db import normalize_url, open_db, write_tx

DEFAULT_READER = "nnlab_reader"
READER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
READER_STATEMENT_TIMEOUT = "60s"
READER_CONNECTION_LIMIT = 20


def check_reader_name(name: str) -> str:
    """The role name if it is a plain lower-case identifier not reserved by PostgreSQL; else ValueError."""
    if not READER_NAME.fullmatch(name or "") or name.startswith("pg_"):
        raise ValueError(f"{name!r} is not a usable role name: use 1-63 lower-case letters, digits or '_', "
                         f"starting with a letter or '_' and not with 'pg_' (e.g. {DEFAULT_READER})")
    return name


def create_reader(admin_url: str, name: str = DEFAULT_READER) -> str:
    """Create (or reset the password of) a read-only role on `admin_url`'s database; returns its URL.

    `admin_url` must be able to create roles and own (or be a member of the owner of) the lab's tables.
    """
    check_reader_name(name)
    admin_url = normalize_url(admin_url)
    url = make_url(admin_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"create-reader is for PostgreSQL; {url.get_backend_name()!r} needs no reader role "
                         f"(SQLite queries run on a read-only connection)")
    engine = open_db(admin_url)  # the lab's tables exist (and are at head) before they are granted
    password = secrets.token_urlsafe(24)  # URL-safe letters only: no quoting issue in the statement below
    role = f'"{name}"'
    with write_tx(engine) as conn:
        schema = conn.scalar(text("SELECT current_schema()"))
        database = conn.scalar(text("SELECT current_database()"))
        owner = conn.scalar(text("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = 'runs'"),
                            {"s": schema})
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name})
        verb = "ALTER" if exists else "CREATE"
        conn.execute(text(f"{verb} ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                          f"NOBYPASSRLS NOINHERIT CONNECTION LIMIT {READER_CONNECTION_LIMIT} PASSWORD '{password}'"))
        conn.execute(text(f"ALTER ROLE {role} SET default_transaction_read_only = on"))
        conn.execute(text(f"ALTER ROLE {role} SET statement_timeout = '{READER_STATEMENT_TIMEOUT}'"))
        conn.execute(text(f'REVOKE ALL ON DATABASE "{database}" FROM {role}'))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO {role}'))
        conn.execute(text(f'REVOKE CREATE ON SCHEMA "{schema}" FROM {role}'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}'))
        conn.execute(text(f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" '
                          f"GRANT SELECT ON TABLES TO {role}"))
    return url.set(username=name, password=password).render_as_string(hide_password=False)
