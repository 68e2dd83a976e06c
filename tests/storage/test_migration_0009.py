"""Revision 0009: Transformer runs stored before the `scaled` knob get scaled = true (what they trained
with); other runs, and runs that already say, are left alone."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

import storage as s
from storage.db import alembic_config, make_engine, write_tx


def _upgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    with write_tx(engine) as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_old_transformer_runs_get_scaled_true_and_nothing_else_changes(sqlite_url):
    _upgrade_to(sqlite_url, "0008_worker")
    engine = make_engine(sqlite_url)
    with write_tx(engine) as conn:
        conn.execute(text("INSERT INTO experiments (id, name, created_at, description) "
                          "VALUES (1, 'old', '2026-01-02 03:04:05.000000', '')"))
        for run_id, model in ((1, "transformer"), (2, "seq2seq"), (3, "transformer")):
            conn.execute(text(
                "INSERT INTO runs (id, experiment_id, name, status, created_at, seed, model, dataset, spec, notes, "
                "engine_version, diverged, cancel_requested, epochs_planned, epochs_done, host, worker) VALUES "
                f"({run_id}, 1, '', 'completed', '2026-01-02 03:04:06.000000', 0, '{model}', 'reverse', '{{}}', '', "
                "'0.3.0', 0, 0, 1, 1, '', '')"))
        conn.execute(text("INSERT INTO params (run_id, name, value_text, value_num, value_type) "
                          "VALUES (3, 'scaled', 'false', 0.0, 'bool')"))
    engine.dispose()
    db = s.open_db(sqlite_url)  # upgrades to the head
    assert s.get_run(db, 1).params["scaled"] is True
    assert "scaled" not in s.get_run(db, 2).params
    assert s.get_run(db, 3).params["scaled"] is False  # said already: kept
    s.close_all()
