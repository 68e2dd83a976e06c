"""Alembic migrations: applied on open, an older database keeps its rows, a newer one is refused."""

from __future__ import annotations

import numpy as np
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

import storage as s
from storage.db import alembic_config, current_revisions, make_engine, write_tx
from storage.models import Base


def test_a_new_database_is_created_at_the_head_revision(engine):
    with engine.connect() as conn:
        assert current_revisions(conn) == (s.head_revision(),)
    assert {"experiments", "runs", "run_tags", "params", "metrics", "metric_summary", "snapshots"} <= set(
        inspect(engine).get_table_names())


def test_migrations_build_exactly_the_schema_the_models_describe(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def _database_at_first_revision(url: str) -> None:
    """A database as the first release left it, with rows in every table it had."""
    engine = make_engine(url)
    with write_tx(engine) as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_initial")
        conn.execute(text("INSERT INTO experiments (id, name, created_at, description) "
                          "VALUES (1, 'old-exp', '2024-01-02 03:04:05.000000', 'from v1')"))
        conn.execute(text(
            "INSERT INTO runs (id, experiment_id, name, status, created_at, seed, model, dataset, spec, notes, "
            "engine_version, diverged, cancel_requested, epochs_planned, epochs_done, host) VALUES "
            "(7, 1, 'old run', 'completed', '2024-01-02 03:04:06.000000', 3, 'mlp', 'digits', '{\"lr\": 0.1}', "
            "'kept notes', '0.0.1', 0, 0, 2, 2, '')"))
        conn.execute(text("INSERT INTO params (run_id, name, value_text, value_num, value_type) "
                          "VALUES (7, 'lr', '0.1', 0.1, 'float')"))
        conn.execute(text("INSERT INTO run_tags (run_id, tag) VALUES (7, 'legacy')"))
        conn.execute(text("INSERT INTO metrics (run_id, key, step, value, flag) VALUES "
                          "(7, 'val_loss', 1, 0.9, 0), (7, 'val_loss', 2, NULL, 1)"))
        conn.execute(text("INSERT INTO metric_summary (run_id, key, last_value, last_step, last_flag, best_value, "
                          "best_step, nonfinite_count) VALUES (7, 'val_loss', NULL, 2, 1, 0.9, 1, 1)"))
    engine.dispose()


def test_a_database_from_the_first_revision_is_migrated_and_keeps_its_rows(sqlite_url):
    _database_at_first_revision(sqlite_url)
    engine = s.open_db(sqlite_url)
    with engine.connect() as conn:
        assert current_revisions(conn) == (s.head_revision(),)
    run = s.get_run(engine, 7)
    assert (run.name, run.experiment, run.notes, run.params, run.tags) == (
        "old run", "old-exp", "kept notes", {"lr": 0.1}, ["legacy"])
    assert run.spec == {"lr": 0.1}
    history = s.get_metric_history(engine, 7)["val_loss"]
    assert history[0] == (1, 0.9) and np.isnan(history[1][1])
    with engine.connect() as conn:  # the finished run got its packed series (0005), equal to its points
        packed = conn.execute(text("SELECT n, steps, vals FROM metric_series WHERE run_id = 7 AND key = 'val_loss'")).one()
    from storage.series import unpack

    steps_values = unpack(*packed)
    assert steps_values[0] == (1, 0.9) and steps_values[1][0] == 2 and np.isnan(steps_values[1][1])
    s.write_snapshot(engine, 7, 2, "weights", "W", np.eye(2))  # the table the second revision added
    assert s.read_snapshot(engine, 7, "weights", "W", 2).shape == (2, 2)
    s.close_all()


def test_a_database_from_a_newer_version_is_refused(sqlite_url):
    s.open_db(sqlite_url)
    s.close_all()
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    engine.dispose()
    with pytest.raises(s.SchemaTooNew, match="9999_from_the_future.*newer NN Lab"):
        s.open_db(sqlite_url)


def test_sqlite_keeps_long_tables_clustered_by_their_primary_key(sqlite_engine):
    with sqlite_engine.connect() as conn:
        sql = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    for table in ("metrics", "metric_summary", "params", "run_tags"):
        assert sql[table].rstrip().endswith("WITHOUT ROWID"), table
