"""Run a user's SQL against the store without any way to change it.

Read-only by construction; the text check only gives friendlier messages:
1. limits first: at most MAX_QUERY_CHARS characters (checked before any parsing), `max_rows` rows,
   MAX_RESULT_BYTES of fetched cells, and `timeout_s` seconds (a SQLite progress handler,
   PostgreSQL's statement_timeout);
2. inspection, linear in the query's length: one statement starting with SELECT, WITH, VALUES or
   EXPLAIN, without a writing keyword or a known side-effect function outside string literals;
3. SQLite: the file opened read-only (`mode=ro` URI), `PRAGMA query_only`, no ATTACH, a cap on the size
   of any value, and an authorizer that allows reading and an explicit set of functions only;
   PostgreSQL: a role that can only SELECT (made by `nnlab db create-reader`; a role that could
   write or reach the server's files is refused), in a READ ONLY transaction that is always rolled back.
"""

from __future__ import annotations

import math
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

MAX_QUERY_CHARS = 20_000
MAX_ROWS_LIMIT = 100_000
MAX_TIMEOUT_S = 300.0
MAX_CELL_BYTES = 16 * 1024 * 1024  # SQLite's SQLITE_LIMIT_LENGTH: no string or blob larger than this
MAX_RESULT_BYTES = 64 * 1024 * 1024  # fetching stops (truncated) once the cells fetched reach this

ALLOWED_FIRST_WORDS = frozenset({"SELECT", "WITH", "VALUES", "EXPLAIN"})
FORBIDDEN_WORDS = frozenset("""
    INSERT UPDATE DELETE DROP ATTACH DETACH CREATE ALTER PRAGMA VACUUM REINDEX TRUNCATE GRANT REVOKE
    COPY BEGIN COMMIT ROLLBACK SAVEPOINT RELEASE LOCK SET RESET CALL DO EXECUTE PREPARE DEALLOCATE
    LISTEN NOTIFY UNLISTEN LOAD MERGE UPSERT INTO CLUSTER REFRESH DISCARD CHECKPOINT COMMENT IMPORT
    SECURITY REASSIGN
""".split())
# Side-effect functions named for a clear message; the database layers refuse them (and any other) anyway.
FORBIDDEN_FUNCTIONS = frozenset("""
    load_extension pg_terminate_backend pg_cancel_backend pg_reload_conf pg_rotate_logfile pg_read_file
    pg_read_binary_file pg_ls_dir pg_stat_file lo_import lo_export lo_unlink lo_create lo_from_bytea lo_put
    set_config pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock pg_try_advisory_xact_lock
    pg_advisory_lock_shared pg_advisory_unlock_all dblink dblink_exec dblink_connect nextval setval
    pg_switch_wal pg_create_restore_point pg_promote pg_logical_emit_message pg_notify txid_current
    pg_current_xact_id query_to_xml query_to_xmlschema query_to_xml_and_xmlschema
""".split())
# The only functions the SQLite authorizer lets a query call: SQLite's core, aggregate, window, date,
# math and JSON functions (no load_extension, fts3_tokenizer, sqlite_log or extension internals).
SQLITE_FUNCTIONS = frozenset("""
    -> ->> abs acos acosh asin asinh atan atan2 atanh avg ceil ceiling char coalesce concat concat_ws cos cosh
    count cume_dist current_date current_time current_timestamp date datetime degrees dense_rank exp
    first_value floor format glob group_concat hex ifnull iif instr json json_array json_array_length
    json_each json_extract json_group_array json_group_object json_insert json_object json_patch json_quote
    json_remove json_replace json_set json_tree json_type json_valid julianday lag last_value lead length
    like likelihood likely ln log log10 log2 lower ltrim max min mod nth_value ntile nullif octet_length
    percent_rank pi pow power printf quote radians random randomblob rank replace round row_number rtrim
    sign sin sinh soundex sqlite_source_id sqlite_version sqrt strftime string_agg substr substring
    subtype sum tan tanh time timediff total trim trunc typeof unhex unicode unixepoch unlikely upper zeroblob
""".split())
SQLITE_READONLY_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                                     "foreign_key_list", "table_list", "database_list", "collation_list",
                                     "function_list", "pragma_list"})
READER_HINT = ("create a read-only role with `nnlab db create-reader --db ADMIN_URL` and give its URL "
               "with --query-db or $NNLAB_QUERY_DB")


class QueryError(Exception):
    """The query could not run (bad SQL, refused, or stopped)."""


class QueryRefused(QueryError):
    """The query could change the database (or is not a single read statement), so it was not run."""


class QueryTimeout(QueryError):
    """The query ran longer than its time limit and was stopped."""


@dataclass
class QueryResult:
    """Column names, rows (tuples), whether rows were cut (at max_rows or the byte cap), and the wall time."""

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    elapsed_s: float


def check_limits(max_rows: int, timeout_s: float) -> None:
    """ValueError unless 1 <= max_rows <= MAX_ROWS_LIMIT and 0 < timeout_s <= MAX_TIMEOUT_S (finite)."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or not 1 <= max_rows <= MAX_ROWS_LIMIT:
        raise ValueError(f"max_rows must be a whole number from 1 to {MAX_ROWS_LIMIT}, got {max_rows!r}")
    if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S):
        raise ValueError(f"timeout must be a number of seconds > 0 and <= {MAX_TIMEOUT_S:g}, got {timeout_s!r}")


# --- inspection ----------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_QUOTE_OR_BACKSLASH = re.compile(r"['\\]")
_CLOSERS = {'"': '"', "`": "`", "[": "]"}


def _end_of_quoted(sql: str, start: int, quote_char: str) -> int:
    """Index after the closing quote of a literal opened just before `start` ('' doubles it); -1 if none."""
    while True:
        j = sql.find(quote_char, start)
        if j < 0:
            return -1
        if sql.startswith(quote_char * 2, j) and quote_char in "'\"":
            start = j + 2
            continue
        return j + 1


def _end_of_escape_string(sql: str, start: int) -> int:
    """Index after the closing quote of an E'...' string (backslash escapes); -1 if none."""
    while True:
        m = _QUOTE_OR_BACKSLASH.search(sql, start)
        if m is None:
            return -1
        j = m.start()
        if sql[j] == "\\" or sql.startswith("''", j):
            start = j + 2
            continue
        return j + 1


def _tokens(sql: str) -> list[tuple[str, str, int]]:
    """(kind, text, end) tokens without whitespace and comments; strings and quoted names stay opaque.

    One pass, each character read a bounded number of times; an unterminated string, quoted name or
    comment ends the list with an 'open' token.
    """
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
            continue
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                out.append(("open", "/*", n))
                break
            i = j + 2
            continue
        if c in "eE" and sql.startswith("'", i + 1):
            end, kind = _end_of_escape_string(sql, i + 2), "string"
        elif c == "'":
            end, kind = _end_of_quoted(sql, i + 1, "'"), "string"
        elif c in _CLOSERS:
            end, kind = _end_of_quoted(sql, i + 1, _CLOSERS[c]), "qident"
        elif c == "$":
            m = _DOLLAR_TAG.match(sql, i)
            j = sql.find(m.group(0), m.end()) if m else -1
            end, kind = (j + len(m.group(0)) if m and j >= 0 else -1), "dollar"
        elif c.isalpha() or c == "_":
            m = _WORD.match(sql, i)
            end, kind = (m.end() if m else i + 1), "word"
        else:
            end, kind = i + 1, "other"
        if end < 0:
            out.append(("open", c, n))
            break
        out.append((kind, sql[i:end], end))
        i = end
    return out


def _called_name(kind: str, text: str) -> str:
    """The function name a word or quoted-name token stands for, lower-case."""
    if kind == "qident":
        return text[1:-1].replace('""', '"').lower()
    return text.lower()


def check_query(sql: str) -> str:
    """The statement without a trailing ';' if it is a single read-only query; else QueryRefused."""
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryRefused(f"The query is too long: {len(sql)} characters; the limit is {MAX_QUERY_CHARS}.")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryRefused("The query is not valid UTF-8 text.") from None
    tokens = _tokens(sql)
    while tokens and tokens[-1][:2] == ("other", ";"):
        tokens.pop()
    if not tokens:
        raise QueryRefused("The query is empty.")
    if any(t[:2] == ("other", ";") for t in tokens):
        raise QueryRefused("Only one statement can be run at a time (remove the ';' between statements).")
    if tokens[-1][0] == "open":
        raise QueryRefused("The query has an unterminated string, quoted name or comment.")
    if tokens[0][0] != "word" or tokens[0][1].upper() not in ALLOWED_FIRST_WORDS:
        first = tokens[0][1].upper() if tokens[0][0] == "word" else ""
        if first and first not in FORBIDDEN_WORDS | {"REPLACE", "ANALYZE"}:  # a typo (SELEC), not a write
            raise QueryError(f"syntax error: {tokens[0][1]!r} does not start an SQL statement; a query starts "
                             "with SELECT, WITH, VALUES or EXPLAIN.")
        raise QueryRefused("Only read queries can be run here: start with SELECT, WITH, VALUES or EXPLAIN.")
    for i, (kind, text, _) in enumerate(tokens):
        follows = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if kind in ("word", "qident") and follows == "(" and _called_name(kind, text) in FORBIDDEN_FUNCTIONS:
            raise QueryRefused(f"The function {_called_name(kind, text)}() is not allowed here.")
        if kind != "word":
            continue
        word = text.upper()
        if word in FORBIDDEN_WORDS:
            raise QueryRefused(f"{word} is not allowed here: this page only reads the database.")
        if word == "REPLACE" and follows != "(":  # replace(...) the string function is fine
            raise QueryRefused("REPLACE is not allowed here: this page only reads the database.")
        if word == "ANALYZE" and not (i > 0 and tokens[i - 1][1].upper() == "EXPLAIN"):
            raise QueryRefused("ANALYZE is not allowed here: this page only reads the database.")
    return sql[:tokens[-1][2]]  # without a trailing ';' or comment


def _fetch(cur, max_rows: int) -> tuple[list[tuple], bool]:
    """Up to max_rows rows, stopping early once MAX_RESULT_BYTES of cells are held; (rows, truncated)."""
    rows: list[tuple] = []
    held = 0
    while True:
        batch = cur.fetchmany(min(100, max_rows + 1 - len(rows)))
        if not batch:
            return rows, False
        for row in batch:
            if len(rows) == max_rows:
                return rows, True
            held += sum(len(v) if isinstance(v, str | bytes | bytearray | memoryview) else 8 for v in row)
            if held > MAX_RESULT_BYTES:
                return rows, True
            rows.append(tuple(row))


# --- SQLite ----------------------------------------------------------------------------------------

def _sqlite_authorizer(action, arg1, arg2, db_name, trigger):
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, 33):  # 33: SQLITE_RECURSIVE
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_OK if (arg2 or "").lower() in SQLITE_FUNCTIONS else sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master":
        # SQLite's own schema bookkeeping when a pragma function is first used; the connection is
        # read-only and query_only, and sqlite_master is never writable without writable_schema.
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA:  # only table-valued pragma functions reach here (PRAGMA is refused)
        return sqlite3.SQLITE_OK if (arg1 or "").lower() in SQLITE_READONLY_PRAGMAS else sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_DENY


def _run_sqlite(path: str, sql: str, max_rows: int, timeout_s: float) -> tuple[list[str], list[tuple], bool]:
    if not path or path == ":memory:" or not os.path.isfile(path):
        raise QueryError(f"No database file at {path!r}.")
    conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=5.0,
                           isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # load the schema before locking down
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_CELL_BYTES)
        conn.set_authorizer(_sqlite_authorizer)
        deadline = time.monotonic() + timeout_s
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
        try:
            cur = conn.execute(sql)
            rows, truncated = _fetch(cur, max_rows)
        except sqlite3.Error as exc:
            message = str(exc)
            if "interrupted" in message:
                raise QueryTimeout(f"The query was stopped after {timeout_s:g} s (time limit).") from None
            if "authoriz" in message or "prohibited" in message:
                raise QueryRefused(f"Refused by the database: {message}") from None
            if "too big" in message:
                raise QueryError(f"{message}: values are limited to {MAX_CELL_BYTES // 2**20} MB here") from None
            raise QueryError(message) from None
        columns = [d[0] for d in cur.description or ()]
        return columns, rows, truncated
    finally:
        conn.close()


# --- PostgreSQL ------------------------------------------------------------------------------------

# Why the connecting role may not run arbitrary SQL: one row of reasons (all false for a reader role).
_PRIVILEGE_CHECK = """
SELECT r.rolsuper,
       r.rolcreaterole OR r.rolcreatedb OR has_database_privilege(current_database(), 'CREATE'),
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                 AND (pg_has_role(c.relowner, 'USAGE')
                      OR (c.relkind IN ('r', 'p') AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))
                      OR (c.relkind = 'S' AND has_sequence_privilege(c.oid, 'UPDATE')))),
       pg_has_role('pg_signal_backend', 'USAGE') OR pg_has_role('pg_read_server_files', 'USAGE')
         OR pg_has_role('pg_write_server_files', 'USAGE') OR pg_has_role('pg_execute_server_program', 'USAGE')
         OR has_function_privilege('pg_read_file(text)', 'EXECUTE')
         OR has_function_privilege('pg_read_binary_file(text)', 'EXECUTE')
         OR has_function_privilege('pg_ls_dir(text)', 'EXECUTE')
         OR has_function_privilege('lo_import(text)', 'EXECUTE'),
       current_user
FROM pg_roles r WHERE r.rolname = current_user
"""


def _refuse_privileged_role(cursor) -> None:
    """QueryRefused unless the session's role can only read (see `nnlab db create-reader`)."""
    cursor.execute(_PRIVILEGE_CHECK)
    superuser, creates, writes, server_access, role = cursor.fetchone()
    why = ("is a superuser" if superuser else "can create databases, roles or schemas" if creates
           else "owns or can write the lab's tables" if writes
           else "can reach the server's files or other sessions" if server_access else None)
    if why:
        raise QueryRefused(f"Arbitrary SQL is not run as PostgreSQL role {role!r}, which {why}; {READER_HINT}.")


def _run_postgres(url: str, sql: str, max_rows: int, timeout_s: float, *, explain: bool
                  ) -> tuple[list[str], list[tuple], bool]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        raw = engine.raw_connection()
    except Exception as exc:
        engine.dispose()
        raise QueryError(f"Cannot connect to {make_url(url).render_as_string(hide_password=True)}: "
                         f"{str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}") from None
    try:
        driver = raw.driver_connection
        setup = raw.cursor()
        setup.execute("SET TRANSACTION READ ONLY")
        setup.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        _refuse_privileged_role(setup)
        setup.close()
        # A server-side cursor streams rows (so max_rows stops a runaway query) and only takes one
        # SELECT/VALUES; EXPLAIN cannot be declared as a cursor and returns few rows anyway.
        cur = driver.cursor() if explain else driver.cursor(name="nnlab_readonly")
        try:
            cur.execute(sql)
            rows, truncated = _fetch(cur, max_rows)
            columns = [d.name for d in cur.description or ()]
        except Exception as exc:  # psycopg errors, without importing the driver here
            state = getattr(exc, "sqlstate", None)
            if state == "57014":  # query_canceled: statement_timeout
                raise QueryTimeout(f"The query was stopped after {timeout_s:g} s (time limit).") from None
            if state in ("25006", "42501"):  # read_only_sql_transaction, insufficient_privilege
                raise QueryRefused(f"Refused by the database: {str(exc).strip()}") from None
            raise QueryError(str(exc).strip()) from None
        return columns, rows, truncated
    finally:
        try:
            raw.rollback()
        finally:
            raw.close()
            engine.dispose()


def resolve_query_url(db_url: str, query_db: str | None = None) -> str:
    """Where queries run: `query_db` if given, else $NNLAB_QUERY_DB, else the store itself."""
    return normalize_url(query_db or os.environ.get("NNLAB_QUERY_DB") or db_url)


def run_readonly_query(url: str, sql: str, *, max_rows: int = 10_000, timeout_s: float = 10.0) -> QueryResult:
    """Run one read-only SQL statement; QueryRefused for anything that could write, QueryTimeout when slow."""
    check_limits(max_rows, timeout_s)
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
