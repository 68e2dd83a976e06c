"""Engines, URLs, the per-process engine cache and sessions."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from sqlalchemy import select, text

import storage as s
from storage import db as dbmod
from storage.models import Run


def test_resolve_db_url_prefers_cli_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("NNLAB_DB", raising=False)
    assert s.resolve_db_url() == s.DEFAULT_DB_URL == "sqlite:///nnlab.db"
    monkeypatch.setenv("NNLAB_DB", "postgresql+psycopg://u@h/db")
    assert s.resolve_db_url() == "postgresql+psycopg://u@h/db"
    assert s.resolve_db_url("sqlite:///other.db") == "sqlite:///other.db"


def test_a_bare_path_becomes_a_sqlite_url():
    assert s.resolve_db_url("runs.db") == "sqlite:///runs.db"
    assert s.resolve_db_url("/tmp/x/runs.db") == "sqlite:////tmp/x/runs.db"


def test_sqlite_engine_has_wal_foreign_keys_and_busy_timeout(sqlite_engine):
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == dbmod.SQLITE_BUSY_TIMEOUT_MS
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_open_db_returns_one_cached_engine_per_url(tmp_path):
    a, b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    assert s.open_db(a) is s.open_db(a)
    assert s.open_db(a) is not s.open_db(b)
    s.close_all()


def _child_engine_is_new(url, parent_engine_id, queue):
    # After fork the parent's Engine object still sits at the same address in the child's memory.
    inherited = list(dbmod._ENGINES)
    engine = s.open_db(url)
    queue.put(inherited == [] and id(engine) != parent_engine_id and dbmod._ENGINES[(os.getpid(), url)] is engine)


def test_a_forked_child_never_reuses_the_parents_engine(sqlite_url):
    parent = s.open_db(sqlite_url)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_engine_is_new, args=(sqlite_url, id(parent), queue))
    proc.start()
    assert queue.get(timeout=60) is True
    proc.join(timeout=30)
    s.close_all()


def test_session_scope_commits_on_success_and_rolls_back_on_error(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    with s.session_scope(sqlite_engine) as session:
        session.get(Run, run_id).name = "kept"
    with pytest.raises(RuntimeError, match="boom"):
        with s.session_scope(sqlite_engine) as session:
            session.get(Run, run_id).name = "lost"
            session.flush()
            raise RuntimeError("boom")
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(Run.name).where(Run.id == run_id)) == "kept"
