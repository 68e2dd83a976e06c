"""Revision 0006: a database at 0005 gains experiment_runs and events, keeps its runs, and can go back."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

import storage as s
from storage.db import alembic_config, current_revisions, make_engine, write_tx


def _at(url: str, revision: str) -> None:
    engine = make_engine(url)
    with write_tx(engine) as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision) if revision != "down" else command.downgrade(cfg, "0005_backfill_series")
    engine.dispose()


def test_a_database_at_0005_is_upgraded_keeps_its_runs_and_gets_the_new_tables(sqlite_url):
    db_url = sqlite_url
    _at(db_url, "0005_backfill_series")
    engine = make_engine(db_url)
    with write_tx(engine) as conn:
        conn.execute(text("INSERT INTO experiments (id, name, created_at, description) "
                          "VALUES (1, 'old', '2026-01-02 03:04:05.000000', '')"))
        conn.execute(text(
            "INSERT INTO runs (id, experiment_id, name, status, created_at, seed, model, dataset, spec, notes, "
            "engine_version, diverged, cancel_requested, epochs_planned, epochs_done, host) VALUES "
            "(5, 1, 'kept', 'completed', '2026-01-02 03:04:06.000000', 0, 'mlp', 'digits', '{}', '', '0.1.0', "
            "0, 0, 1, 1, '')"))
    engine.dispose()
    db = s.open_db(db_url)
    with db.connect() as conn:
        assert current_revisions(conn) == (s.head_revision(),)
    assert {"experiment_runs", "events"} <= set(inspect(db).get_table_names())
    assert s.get_run(db, 5).experiment == "old"
    from storage.events import get_events, replace_events
    from storage.lessons import experiment_names_of, link_runs

    link_runs(db, "lesson-x", [5])
    link_runs(db, "lesson-x", [5])  # idempotent
    assert experiment_names_of(db, 5) == ["old", "lesson-x"] and s.get_run(db, 5).experiment == "old"
    replace_events(db, 5, [(1, "plateau", "stalled")])
    assert get_events(db, [5])[5] == [{"epoch": 1, "kind": "plateau", "message": "stalled"}]
    with pytest.raises(Exception):
        replace_events(db, 5, [(1, "bogus", "not a kind")])
    s.close_all()
    _at(db_url, "down")
    engine = make_engine(db_url)
    assert not {"experiment_runs", "events"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_deleting_a_run_deletes_its_links_and_events(db_url):
    from storage.events import get_events, replace_events
    from storage.lessons import experiment_run_ids, link_runs

    db = s.open_db(db_url)
    rid = s.create_run(db, {}, {}, status="completed", experiment="own")
    link_runs(db, "lesson-y", [rid])
    replace_events(db, rid, [(2, "overfitting", "x")])
    assert experiment_run_ids(db, "lesson-y") == [rid] and experiment_run_ids(db, "own") == [rid]
    s.delete_runs(db, [rid])
    assert experiment_run_ids(db, "lesson-y") == [] and get_events(db, [rid])[rid] == []
    s.close_all()
