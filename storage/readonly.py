"""Run a user's SQL against the store without any way to change it.

Defence in depth, every layer enough on its own for the common cases:
1. inspection: one statement, starting with SELECT, WITH, VALUES or EXPLAIN, with no writing keyword
   or side-effect function outside string literals and quoted names;
2. SQLite: the file opened read-only (`mode=ro` URI), `PRAGMA query_only`, and an authorizer that allows
   reads and plain functions only; PostgreSQL: a READ ONLY transaction that is always rolled back,
   run through a server-side cursor (which accepts a single SELECT/VALUES only);
3. limits: at most `max_rows` rows are fetched, and `timeout_s` is enforced by a SQLite progress
   handler or PostgreSQL's statement_timeout.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .db import normalize_url

ALLOWED_FIRST_WORDS = frozenset({"SELECT", "WITH", "VALUES", "EXPLAIN"})
FORBIDDEN_WORDS = frozenset("""
    INSERT UPDATE DELETE DROP ATTACH DETACH CREATE ALTER PRAGMA VACUUM REINDEX TRUNCATE GRANT REVOKE
    COPY BEGIN COMMIT ROLLBACK SAVEPOINT RELEASE LOCK SET RESET CALL DO EXECUTE PREPARE DEALLOCATE
    LISTEN NOTIFY UNLISTEN LOAD MERGE UPSERT INTO CLUSTER REFRESH DISCARD CHECKPOINT COMMENT IMPORT
    SECURITY REASSIGN
""".split())
# Functions with side effects (server files, sessions, locks, sequences, extensions).
FORBIDDEN_FUNCTIONS = frozenset("""
    load_extension pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile pg_read_file
    pg_read_binary_file pg_ls_dir pg_stat_file lo_import lo_export lo_unlink lo_create lo_from_bytea lo_put
    set_config pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock pg_try_advisory_xact_lock
    pg_advisory_lock_shared pg_advisory_unlock_all dblink dblink_exec dblink_connect nextval setval
    pg_switch_wal pg_create_restore_point pg_promote pg_logical_emit_message pg_notify txid_current
    pg_current_xact_id query_to_xml query_to_xmlschema query_to_xml_and_xmlschema
""".split())
SQLITE_READONLY_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                                     "foreign_key_list", "table_list", "database_list", "collation_list",
                                     "function_list", "pragma_list"})


class QueryError(Exception):
    """The query could not run (bad SQL, refused, or stopped)."""


class QueryRefused(QueryError):
    """The query could change the database (or is not a single read statement), so it was not run."""


class QueryTimeout(QueryError):
    """The query ran longer than its time limit and was stopped."""


@dataclass
class QueryResult:
    """Column names, rows (tuples), whether rows were cut at max_rows, and the wall time taken."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_s: float


# --- inspection ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>[eE]'(?:[^'\\]|\\.|'')*' | '(?:[^']|'')*')
  | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$.*?\$(?P=tag)?\$)
  | (?P<qident>"(?:[^"]|"")*" | `[^`]*` | \[[^\]]*\])
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<open>['"`\[$]|/\*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


def _tokens(sql: str) -> list[tuple[str, str, int]]:
    """(kind, text, end) tokens without whitespace and comments; strings and quoted names stay opaque."""
    return [(m.lastgroup, m.group(0), m.end()) for m in _TOKEN.finditer(sql)
            if m.lastgroup not in ("ws", "comment")]


def check_query(sql: str) -> str:
    """The statement without a trailing ';' if it is a single read-only query; else QueryRefused."""
    tokens = _tokens(sql)
    while tokens and tokens[-1][:2] == ("other", ";"):
        tokens.pop()
    if not tokens:
        raise QueryRefused("The query is empty.")
    if any(t[:2] == ("other", ";") for t in tokens):
        raise QueryRefused("Only one statement can be run at a time (remove the ';' between statements).")
    if any(kind == "open" for kind, _, _ in tokens):
        raise QueryRefused("The query has an unterminated string, quoted name or comment.")
    words = [(i, text.upper()) for i, (kind, text, _) in enumerate(tokens) if kind == "word"]
    if tokens[0][0] != "word" or tokens[0][1].upper() not in ALLOWED_FIRST_WORDS:
        first = tokens[0][1].upper() if tokens[0][0] == "word" else ""
        if first and first not in FORBIDDEN_WORDS | {"REPLACE", "ANALYZE"}:  # a typo (SELEC), not a write
            raise QueryError(f"syntax error: {tokens[0][1]!r} does not start an SQL statement; a query starts "
                             "with SELECT, WITH, VALUES or EXPLAIN.")
        raise QueryRefused("Only read queries can be run here: start with SELECT, WITH, VALUES or EXPLAIN.")
    for i, word in words:
        follows = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if word in FORBIDDEN_WORDS:
            raise QueryRefused(f"{word} is not allowed here: this page only reads the database.")
        if word == "REPLACE" and follows != "(":  # replace(...) the string function is fine
            raise QueryRefused("REPLACE is not allowed here: this page only reads the database.")
        if word == "ANALYZE" and not (i > 0 and tokens[i - 1][1].upper() == "EXPLAIN"):
            raise QueryRefused("ANALYZE is not allowed here: this page only reads the database.")
        if follows == "(" and word.lower() in FORBIDDEN_FUNCTIONS:
            raise QueryRefused(f"The function {word.lower()}() is not allowed here.")
    return sql[:tokens[-1][2]]  # without a trailing ';' or comment


# --- SQLite ----------------------------------------------------------------------------------------

def _sqlite_authorizer(action, arg1, arg2, db_name, trigger):
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, 33):  # 33: SQLITE_RECURSIVE
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in FORBIDDEN_FUNCTIONS else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
        # SQLite's own schema bookkeeping when a pragma function is first used; the connection is
        # read-only and query_only, and sqlite_master is never writable without writable_schema.
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:  # only table-valued pragma functions reach here (PRAGMA is refused)
        return sqlite3.SQLITE_OK if (arg1 or "").lower() in SQLITE_READONLY_PRAGMAS else sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_DENY


def _run_sqlite(path: str, sql: str, max_rows: int, timeout_s: float) -> tuple[list[str], list[tuple], bool]:
    if not path or path == ":memory:" or not os.path.exists(path):
        raise QueryError(f"No database file at {path!r}.")
    conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5.0,
                           isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # load the schema before locking down
        conn.set_authorizer(_sqlite_authorizer)
        deadline = time.monotonic() + timeout_s
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
        try:
            cur = conn.execute(sql)
            rows = cur.fetchmany(max_rows + 1)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout(f"The query was stopped after {timeout_s:g} s (time limit).") from None
            if "not authorized" in str(exc):
                raise QueryRefused(f"Refused by the database: {exc}") from None
            raise QueryError(str(exc)) from None
        except sqlite3.Error as exc:
            raise QueryError(str(exc)) from None
        columns = [d[0] for d in cur.description or ()]
        return columns, rows[:max_rows], len(rows) > max_rows
    finally:
        conn.close()


# --- PostgreSQL ------------------------------------------------------------------------------------

def _run_postgres(url: str, sql: str, max_rows: int, timeout_s: float, *, explain: bool
                  ) -> tuple[list[str], list[tuple], bool]:
    engine = create_engine(url, poolclass=NullPool)
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        setup = raw.cursor()
        setup.execute("SET TRANSACTION READ ONLY")
        setup.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        setup.close()
        # A server-side cursor streams rows (so max_rows stops a runaway query) and only takes one
        # SELECT/VALUES; EXPLAIN cannot be declared as a cursor and returns few rows anyway.
        cur = driver.cursor() if explain else driver.cursor(name="nnlab_readonly")
        try:
            cur.execute(sql)
            rows = cur.fetchmany(max_rows + 1)
            columns = [d.name for d in cur.description or ()]
        except Exception as exc:  # psycopg errors, without importing the driver here
            state = getattr(exc, "sqlstate", None)
            if state == "57014":  # query_canceled: statement_timeout
                raise QueryTimeout(f"The query was stopped after {timeout_s:g} s (time limit).") from None
            if state == "25006":  # read_only_sql_transaction
                raise QueryRefused(f"Refused by the database: {exc}") from None
            raise QueryError(str(exc).strip()) from None
        return columns, [tuple(r) for r in rows[:max_rows]], len(rows) > max_rows
    finally:
        try:
            raw.rollback()
        finally:
            raw.close()
            engine.dispose()


def run_readonly_query(url: str, sql: str, *, max_rows: int = 10_000, timeout_s: float = 10.0) -> QueryResult:
    """Run one read-only SQL statement; QueryRefused for anything that could write, QueryTimeout when slow."""
    statement = check_query(sql)
    url = normalize_url(url)
    parsed = make_url(url)
    start = time.perf_counter()
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        columns, rows, truncated = _run_sqlite(parsed.database or "", statement, max_rows, timeout_s)
    elif backend == "postgresql":
        explain = _tokens(statement)[0][1].upper() == "EXPLAIN"
        columns, rows, truncated = _run_postgres(url, statement, max_rows, timeout_s, explain=explain)
    else:
        raise QueryError(f"Read-only queries are supported on SQLite and PostgreSQL, not {backend!r}.")
    return QueryResult(columns, rows, truncated, time.perf_counter() - start)
