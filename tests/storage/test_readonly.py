"""The query page's read-only path: nothing it is given can change the database; runaway queries stop."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

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


@pytest.mark.postgres
def test_postgres_read_only_path_refuses_writes_and_enforces_limits(postgres_url):
    url = fresh_postgres_db(postgres_url)
    engine = s.open_db(url)
    s.create_run(engine, {}, {}, name="pg run")
    before = _snapshot(engine)
    for sql in WRITES:
        with pytest.raises(s.QueryRefused):
            s.run_readonly_query(url, sql)
    for sql in ("DELETE FROM runs", "CREATE TABLE evil (x int)", "SELECT nextval('runs_id_seq')"):
        with pytest.raises(s.QueryError):  # the READ ONLY transaction alone also refuses
            readonly._run_postgres(url, sql, 100, 5.0, explain=False)
    assert _snapshot(engine) == before
    assert s.run_readonly_query(url, "SELECT name, status FROM runs").rows == [("pg run", "queued")]
    endless = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT x FROM n"
    result = s.run_readonly_query(url, endless, max_rows=300)
    assert result.truncated and len(result.rows) == 300
    with pytest.raises(s.QueryTimeout):
        s.run_readonly_query(url, "SELECT pg_sleep(5)", timeout_s=0.3)
    s.close_all()
