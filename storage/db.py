"""Engines, migrations and sessions: the only place that knows which database is behind a URL."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

DEFAULT_DB_URL = "sqlite:///nnlab.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Execution option that makes a SQLite transaction start with BEGIN IMMEDIATE (takes the write lock
# up front, so a read-then-write transaction never fails halfway with "database is locked").
WRITE_OPTION = "nnlab_write"
_PG_MIGRATION_LOCK_KEY = 0x6E6E6C6162  # 'nnlab'


class SchemaTooNew(RuntimeError):
    """The database was written by a newer NN Lab: its schema revision is unknown to this code."""


class RunNotFound(KeyError):
    """No run with that id."""


class BadDatabaseURL(ValueError):
    """A --db / $NNLAB_DB value NN Lab cannot use as its store (empty, in memory, unknown database...)."""


SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def normalize_url(value: str) -> str:
    """A SQLAlchemy URL as is; a bare file path becomes a SQLite URL ('runs.db' -> 'sqlite:///runs.db')."""
    value = value.strip()
    if "://" in value or value.startswith("sqlite:"):
        return value
    return f"sqlite:///{value}"


def resolve_db_url(cli_value: str | None = None) -> str:
    """The database to use: --db if given, else $NNLAB_DB, else DEFAULT_DB_URL."""
    value = cli_value or os.environ.get("NNLAB_DB") or DEFAULT_DB_URL
    return normalize_url(value)


def mask_url(url) -> str:
    """The URL with its password replaced by ***, for banners, logs and errors."""
    try:
        return make_url(str(url)).render_as_string(hide_password=True)
    except Exception:  # not a URL: hide anything between '//user:' and '@' all the same
        import re

        return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", str(url))


def check_db_url(value: str, *, existing: bool = False) -> str:
    """The normalized URL of a usable store; BadDatabaseURL saying what is wrong and what is allowed.

    Refused: an empty value, an in-memory SQLite database (it would vanish with the process, and a
    run's writer process would see another one), a folder, a dialect other than SQLite or PostgreSQL,
    and a URL whose driver is not installed; with `existing`, a SQLite file that does not exist yet
    (reading commands never create one). Nothing is opened or created.
    """
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if not value or not value.strip():
        raise BadDatabaseURL("is empty; give a SQLite file (e.g. nnlab.db) or a postgresql+psycopg:// URL")
    url = normalize_url(value)
    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError):
        raise BadDatabaseURL(f"{mask_url(value)!r} is not a database URL; give a SQLite file (e.g. nnlab.db) "
                             f"or a postgresql+psycopg:// URL") from None
    if backend not in SUPPORTED_BACKENDS:
        raise BadDatabaseURL(f"{backend!r} databases are not supported; use a SQLite file or a "
                             f"postgresql+psycopg:// URL")
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in url or database.startswith("file::memory:"):
            raise BadDatabaseURL("an in-memory SQLite database would vanish when the command ends; give a file, "
                                 "e.g. nnlab.db")
        if os.path.isdir(database):
            raise BadDatabaseURL(f"{database!r} is a folder; give a SQLite file, e.g. {database.rstrip('/')}/nnlab.db")
        if existing and not database.startswith("file:") and not os.path.isfile(database):
            raise BadDatabaseURL(f"no database file at {database!r}; `nnlab train` or `nnlab serve` creates one")
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        raise BadDatabaseURL(f"the driver for {parsed.drivername!r} is not installed ({exc}); "
                             f"use postgresql+psycopg://") from None
    return url


def make_engine(url: str) -> Engine:
    """An Engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGINs."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    on_disk = make_url(url).database not in (None, "", ":memory:")
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if on_disk:
            cur.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a process crash never loses a commit; only a power cut can lose the last ones.
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A Connection inside one write transaction: committed on success, rolled back on error."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


def dialect_insert(bind, table):
    """INSERT with ON CONFLICT support for an engine's, connection's or dialect's database (SQLite or
    PostgreSQL), or a dialect's name."""
    name = bind if isinstance(bind, str) else getattr(bind, "dialect", bind).name
    if name == "sqlite":
        return sqlite.insert(table)
    if name == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"NN Lab's store supports SQLite and PostgreSQL, not {name!r}")


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A Connection inside one read transaction (a consistent snapshot), always rolled back."""
    with engine.connect() as conn:
        with conn.begin() as tx:
            yield conn
            tx.rollback()


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """An ORM Session that commits on success, rolls back on error and always closes."""
    bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
    session = Session(bind=bind, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def checkpoint(engine: Engine) -> None:
    """SQLite: fold the WAL into the main file (outside any transaction); a no-op elsewhere."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        cur.close()
    finally:
        raw.close()


# --- migrations -------------------------------------------------------------------------------

def alembic_config() -> Config:
    """An Alembic Config built in code (no alembic.ini), pointing at storage/migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revisions(conn: Connection) -> tuple[str, ...]:
    """Revisions the database is stamped with (empty for a new database)."""
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(conn).get_current_heads())


def _refuse_unknown(revisions, script: ScriptDirectory, url) -> None:
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = [rev for rev in revisions if rev not in known]
    if unknown:
        raise SchemaTooNew(
            f"The database {url!s} has schema revision {unknown[0]!r}, which this version of NN Lab does "
            f"not know (newest known: {script.get_current_head()!r}). It was written by a newer NN Lab: "
            f"upgrade NN Lab, or point --db / $NNLAB_DB at another database.")


def upgrade_to_head(engine: Engine) -> None:
    """Apply any pending migrations in one transaction; refuse a database from a newer version."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as conn:
        revisions = current_revisions(conn)
        conn.rollback()
    _refuse_unknown(revisions, script, url)
    if revisions == (head,):
        return
    with write_tx(engine) as conn:  # SQLite: BEGIN IMMEDIATE serialises concurrent first starts
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK_KEY})
        revisions = current_revisions(conn)
        _refuse_unknown(revisions, script, url)
        if revisions != (head,):
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")


_ENGINES: dict[tuple[int, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def open_db(url: str) -> Engine:
    """make_engine + migrations to head, cached per (process, URL) so a child never reuses a parent's pool."""
    url = normalize_url(url)
    key = (os.getpid(), url)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = make_engine(url)
            try:
                upgrade_to_head(engine)
            except BaseException:
                engine.dispose()
                raise
            _ENGINES[key] = engine
        return engine


def _forget_parent_engines() -> None:
    """In a forked child: drop the parent's pools without closing its connections (they are the parent's)."""
    global _ENGINES_LOCK
    _ENGINES_LOCK = threading.Lock()  # another thread may have held it at fork time
    for key, engine in list(_ENGINES.items()):
        engine.dispose(close=False)
        del _ENGINES[key]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_engines)


def close_all() -> None:
    """Dispose every engine this process opened with open_db (tests, shutdown)."""
    with _ENGINES_LOCK:
        for (pid, _), engine in list(_ENGINES.items()):
            if pid == os.getpid():
                engine.dispose()
        _ENGINES.clear()
