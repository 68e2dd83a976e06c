"""The query page's read-only path: nothing it is given can change the database; runaway queries stop."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import storage as s
from storage import readonly
from storage.db import checkpoint
from tests.storage.conftest import fresh_postgres_db

WRITES = [
    "INSERT INTO runs (name) VALUES ('x')",
    "UPDATE runs SET name = 'x'",
    "DELETE FROM runs",
    "DROP TABLE runs",
    "ATTACH DATABASE '/tmp/evil.db' AS evil",
    "DETACH DATABASE main",
    "CREATE TABLE evil (x)",
    "CREATE TEMP TABLE evil (x)",
    "ALTER TABLE runs ADD COLUMN evil TEXT",
    "REPLACE INTO experiments (id, name, created_at, description) VALUES (1, 'x', '2020-01-01', '')",
    "INSERT OR REPLACE INTO run_tags VALUES (1, 'x')",
    "PRAGMA journal_mode = DELETE",
    "PRAGMA writable_schema = ON",
    "pragma user_version = 5",
    "VACUUM",
    "VACUUM INTO '/tmp/copy.db'",
    "REINDEX",
    "ANALYZE",
    "TRUNCATE runs",
    "BEGIN; DELETE FROM runs; COMMIT",
    "SELECT 1; DELETE FROM runs",
    "SELECT * FROM runs; DROP TABLE runs;",
    "WITH gone AS (SELECT id FROM runs) DELETE FROM runs WHERE id IN (SELECT id FROM gone)",
    "WITH x AS (DELETE FROM runs RETURNING id) SELECT * FROM x",
    "/* harmless? */ DELETE FROM runs",
    "SELECT * FROM runs -- comment\n; DELETE FROM runs",
    "SELECT 'it''s'; DELETE FROM runs; SELECT ';'",
    "SELECT E'\\''; DELETE FROM runs; --'",
    "SELECT $$;$$; DELETE FROM runs",
    "SELECT * INTO evil FROM runs",
    "SELECT load_extension('/tmp/evil.so')",
    "SELECT * FROM runs FOR UPDATE",
    "EXPLAIN DELETE FROM runs",
    "COPY runs TO '/tmp/runs.csv'",
    "SET default_transaction_read_only = off",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT pg_terminate_backend(1)",
    "SELECT nextval('runs_id_seq')",
    "select 'unterminated",
    "",
    "  ;  ",
]


def _snapshot(engine) -> dict:
    """Row counts of every table plus the schema, to prove nothing changed."""
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        counts = {t: conn.scalar(text(f'SELECT count(*) FROM "{t}"')) for t in tables}
        names = sorted(r[0] for r in conn.execute(text("SELECT name FROM runs")))
    return {"counts": counts, "names": names}


def _digest(path: Path) -> str:
    """Hash of the database file and its WAL (if any): every byte the database consists of."""
    wal = path.with_name(path.name + "-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """One small database shared by the module: these tests must leave it unchanged anyway."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('readonly') / 'nnlab.db'}"
    engine = s.open_db(sqlite_url)
    for i in range(3):
        run_id = s.create_run(engine, {}, {"lr": 0.1 * (i + 1)}, name=f"run {i}", experiment="e", tags=["t"])
        for step in range(1, 4):
            s.log_epoch(engine, run_id, step, {"val_loss": 1.0 / step, "val_accuracy": step / 4})
    checkpoint(engine)  # the main file now holds everything; the WAL is empty
    return sqlite_url, engine


@pytest.mark.parametrize("sql", WRITES)
def test_every_write_is_refused_and_nothing_changes(filled, sql):
    url, engine = filled
    path = Path(url.removeprefix("sqlite:///"))
    before, digest = _snapshot(engine), _digest(path)
    with pytest.raises(s.QueryRefused):
        s.run_readonly_query(url, sql)
    assert _snapshot(engine) == before and _digest(path) == digest


@pytest.mark.parametrize("sql", ["DELETE FROM runs", "UPDATE runs SET name = 'x'", "CREATE TABLE evil (x)",
                                 "PRAGMA user_version = 5", "ATTACH DATABASE ':memory:' AS m",
                                 "SELECT load_extension('x')", "DROP TABLE metrics"])
def test_the_sqlite_connection_itself_refuses_writes_that_slip_past_inspection(filled, sql):
    url, engine = filled
    before = _snapshot(engine)
    with pytest.raises(s.QueryError):
        readonly._run_sqlite(url.removeprefix("sqlite:///"), sql, 100, 5.0)
    assert _snapshot(engine) == before


def test_read_queries_work_and_report_columns(filled):
    url, _ = filled
    result = s.run_readonly_query(url, """
        -- best validation accuracy per run
        SELECT r.name, ms.best_value AS best, replace(r.name, 'run', 'RUN') AS shout
        FROM runs r JOIN metric_summary ms ON ms.run_id = r.id
        WHERE ms.key = 'val_accuracy' AND r.notes NOT LIKE '%delete from runs%'
        ORDER BY r.id;""")
    assert result.columns == ["name", "best", "shout"]
    assert result.rows == [("run 0", 0.75, "RUN 0"), ("run 1", 0.75, "RUN 1"), ("run 2", 0.75, "RUN 2")]
    assert not result.truncated and result.elapsed_s >= 0
    cols = s.run_readonly_query(url, "SELECT name FROM pragma_table_info('runs')").rows
    assert ("status",) in cols
    assert s.run_readonly_query(url, "VALUES (1, 'a')").rows == [(1, "a")]
    assert s.run_readonly_query(url, "EXPLAIN QUERY PLAN SELECT * FROM runs").rows


def test_a_row_limit_stops_an_endless_query(filled):
    url, _ = filled
    result = s.run_readonly_query(
        url, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n", max_rows=500)
    assert result.truncated and len(result.rows) == 500 and result.rows[-1] == (500,)


def test_a_time_limit_stops_a_slow_query(filled):
    url, engine = filled
    before = _snapshot(engine)
    with pytest.raises(s.QueryTimeout, match="time limit"):
        s.run_readonly_query(url, "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                                  "SELECT count(*) FROM n", timeout_s=0.3)
    assert _snapshot(engine) == before


def test_bad_sql_and_a_missing_file_give_a_query_error(filled, tmp_path):
    url, _ = filled
    with pytest.raises(s.QueryError, match="no such table"):
        s.run_readonly_query(url, "SELECT * FROM nothing_here")
    with pytest.raises(s.QueryError, match="No database file"):
        s.run_readonly_query(f"sqlite:///{tmp_path / 'absent.db'}", "SELECT 1")
    assert not (tmp_path / "absent.db").exists()


ESCAPES_SQLITE = [  # each slips past the text check or is tried directly on the sandboxed connection
    'SELECT "load_extension"(\'/tmp/evil.so\')',
    "SELECT main.load_extension('/tmp/evil.so')",
    "SELECT fts3_tokenizer('simple')",
    "SELECT sqlite_log(1, 'x')",
    "VACUUM INTO '/tmp/nnlab-escape-copy.db'",
    "ATTACH DATABASE '/tmp/nnlab-escape.db' AS evil",
    "PRAGMA writable_schema = ON",
    "PRAGMA journal_mode = DELETE",
    "INSERT INTO runs (name) VALUES ('x')",
    "DELETE FROM metrics",
    "CREATE TEMP VIEW v AS SELECT 1",
    "SELECT * FROM pragma_integrity_check",
]


@pytest.mark.parametrize("sql", ESCAPES_SQLITE)
def test_the_sqlite_sandbox_allows_only_reads_and_listed_functions(filled, sql):
    url, engine = filled
    path = Path(url.removeprefix("sqlite:///"))
    before, digest = _snapshot(engine), _digest(path)
    with pytest.raises(s.QueryError):
        readonly._run_sqlite(str(path), sql, 100, 5.0)
    with pytest.raises(s.QueryError):
        s.run_readonly_query(url, sql)
    assert _snapshot(engine) == before and _digest(path) == digest
    assert not Path("/tmp/nnlab-escape-copy.db").exists() and not Path("/tmp/nnlab-escape.db").exists()


def test_huge_values_and_results_are_bounded_on_sqlite(filled):
    url, _ = filled
    with pytest.raises(s.QueryError, match="too big"):
        s.run_readonly_query(url, "SELECT randomblob(50000000)")
    big = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
           "SELECT randomblob(8000000) FROM n")  # 8 MB a row: the byte cap stops it long before max_rows
    result = s.run_readonly_query(url, big, max_rows=1000)
    assert result.truncated and len(result.rows) * 8_000_000 <= readonly.MAX_RESULT_BYTES


@pytest.mark.parametrize("max_rows, timeout", [(0, 1.0), (-2, 1.0), (10**9, 1.0), (10, float("nan")),
                                               (10, float("inf")), (10, 0.0), (10, -1.0), (10, 10_000.0)])
def test_row_and_time_limits_are_validated(filled, max_rows, timeout):
    url, _ = filled
    with pytest.raises(ValueError, match="max_rows|timeout"):
        s.run_readonly_query(url, "SELECT 1", max_rows=max_rows, timeout_s=timeout)


@pytest.mark.parametrize("pattern", ["/* ", "'", '"', "E'\\'", "$a$", "[", "-- x\n", "(", "x "])
def test_an_oversized_query_is_refused_by_its_size_before_any_parsing(filled, pattern):
    url, _ = filled
    sql = "SELECT " + pattern * (200_000 // len(pattern))
    with pytest.raises(s.QueryRefused, match=f"too long: {len(sql)} characters; the limit is 20000"):
        s.run_readonly_query(url, sql)


@pytest.mark.parametrize("pattern", ["/* ", "'", "E'\\'", "$a$", "\"", "`"])
def test_pathological_queries_under_the_size_limit_get_an_answer_from_the_check(pattern):
    """The check reads each character a bounded number of times (bench/query_check.py prints the time)."""
    sql = "SELECT " + pattern * ((readonly.MAX_QUERY_CHARS - 8) // len(pattern)) + "'"
    try:
        readonly.check_query(sql)
    except s.QueryRefused as e:
        assert "unterminated" in str(e) or "not allowed" in str(e)


def test_quoted_and_qualified_function_names_are_seen_by_the_text_check():
    for sql in ('SELECT pg_catalog."pg_read_file"(\'/etc/passwd\', 0, 40)',
                'SELECT "pg_terminate_backend"(pid) FROM pg_stat_activity',
                "SELECT pg_catalog.set_config('x', 'y', false)", 'SELECT "LOAD_EXTENSION"(\'x\')'):
        with pytest.raises(s.QueryRefused, match="is not allowed"):
            readonly.check_query(sql)


# --- PostgreSQL: the superuser is refused; the reader role can only read ------------------------------

ESCAPES_POSTGRES = [
    "SELECT pg_catalog.\"pg_read_file\"('/etc/passwd', 0, 40)",
    "SELECT \"pg_read_binary_file\"('/etc/passwd')",
    "SELECT \"pg_ls_dir\"('/')",
    "SELECT \"lo_import\"('/etc/passwd')",
    "SELECT \"pg_terminate_backend\"(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    "SELECT \"pg_cancel_backend\"(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    "SELECT \"pg_reload_conf\"()",
    "SELECT \"set_config\"('transaction_read_only', 'off', true)",
    "SELECT \"nextval\"('runs_id_seq')",
    "SELECT \"setval\"('runs_id_seq', 100)",
    "SELECT \"query_to_xml\"('DELETE FROM runs RETURNING 1', true, true, '')",
    "SELECT * FROM runs FOR UPDATE",
    "DELETE FROM runs",
    "UPDATE runs SET name = 'x'",
    "INSERT INTO runs (name) VALUES ('x')",
    "TRUNCATE runs",
    "DROP TABLE metrics",
    "CREATE TABLE evil (x int)",
    "CREATE TEMP TABLE evil (x int)",
    "COPY runs TO '/tmp/nnlab-escape.csv'",
    "SELECT 1; DELETE FROM runs",
    "WITH x AS (DELETE FROM runs RETURNING id) SELECT * FROM x",
    "SET default_transaction_read_only = off",
]


@pytest.fixture(scope="module")
def pg_lab(request):
    """A PostgreSQL lab database with one run, its admin (superuser) URL and a reader role's URL."""
    from storage.pg_reader import create_reader

    server = request.getfixturevalue("postgres_url")
    admin = fresh_postgres_db(server)
    engine = s.open_db(admin)
    s.create_run(engine, {}, {}, name="pg run")
    reader = create_reader(admin, f"nnlab_reader_{abs(hash(admin)) % 10_000}")
    yield admin, reader, engine
    s.close_all()


def _pg_direct(url: str, sql: str):
    """Run `sql` on the query connection as the query path sets it up, without the text check."""
    return readonly._run_postgres(url, sql, 100, 5.0, explain=False)


@pytest.mark.postgres
def test_postgres_superuser_is_refused_any_arbitrary_sql(pg_lab):
    admin, _, _ = pg_lab
    for sql in ("SELECT 1", "SELECT pg_catalog.\"pg_read_file\"('/etc/passwd', 0, 40)"):
        with pytest.raises(s.QueryRefused, match="superuser.*nnlab db create-reader.*--query-db"):
            _pg_direct(admin, sql)
        with pytest.raises(s.QueryRefused):
            s.run_readonly_query(admin, sql)


@pytest.mark.postgres
def test_postgres_a_role_that_can_write_is_refused(pg_lab, postgres_url):
    admin, _, engine = pg_lab
    with engine.begin() as conn:
        conn.execute(text("DROP ROLE IF EXISTS nnlab_writer_t"))
        conn.execute(text("CREATE ROLE nnlab_writer_t LOGIN"))
        conn.execute(text("GRANT SELECT, INSERT ON runs TO nnlab_writer_t"))
    writer = make_url(admin).set(username="nnlab_writer_t").render_as_string(hide_password=False)
    with pytest.raises(s.QueryRefused, match="can write the lab's tables"):
        s.run_readonly_query(writer, "SELECT 1")


@pytest.mark.postgres
@pytest.mark.parametrize("sql", ESCAPES_POSTGRES)
def test_postgres_reader_role_cannot_escape(pg_lab, sql):
    admin, reader, engine = pg_lab
    before = _snapshot(engine)
    with engine.connect() as other:  # a live session of the lab (a training run's, say)
        other_pid = other.scalar(text("SELECT pg_backend_pid()"))
        with pytest.raises(s.QueryError):
            _pg_direct(reader, sql)
        with pytest.raises(s.QueryError):
            s.run_readonly_query(reader, sql)
        assert other.scalar(text("SELECT pg_backend_pid()")) == other_pid  # still connected
    assert _snapshot(engine) == before
    assert not Path("/tmp/nnlab-escape.csv").exists()


@pytest.mark.postgres
def test_postgres_reader_reads_every_table_including_ones_added_later_with_limits(pg_lab):
    admin, reader, engine = pg_lab
    assert "***" in make_url(reader).render_as_string(hide_password=True)
    assert s.run_readonly_query(reader, "SELECT name, status FROM runs").rows == [("pg run", "queued")]
    assert s.run_readonly_query(reader, "EXPLAIN SELECT * FROM metrics").rows
    with engine.begin() as conn:  # what a later migration does, as the role that owns the tables
        conn.execute(text("CREATE TABLE IF NOT EXISTS added_later (x int)"))
        conn.execute(text("INSERT INTO added_later VALUES (7)"))
    assert s.run_readonly_query(reader, "SELECT x FROM added_later").rows == [(7,)]
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
    result = s.run_readonly_query(reader, endless, max_rows=300)
    assert result.truncated and len(result.rows) == 300
    with pytest.raises(s.QueryTimeout):
        s.run_readonly_query(reader, "SELECT pg_sleep(5)", timeout_s=0.3)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE added_later"))


@pytest.mark.postgres
def test_postgres_create_reader_again_resets_the_password_and_keeps_the_grants(pg_lab):
    admin, reader, _ = pg_lab
    from storage.pg_reader import create_reader

    again = create_reader(admin, make_url(reader).username)
    assert make_url(again).password != make_url(reader).password
    assert s.run_readonly_query(again, "SELECT count(*) FROM runs").rows == [(1,)]
