"""Packed series (metric_series): written when a run ends, read instead of the points, identical to them."""

from __future__ import annotations

import math
import os
import socket
from datetime import timedelta

import numpy as np
from alembic import command
from sqlalchemy import event, func, select, text, update

import storage as s
from storage.db import alembic_config, current_revisions, make_engine, write_tx
from storage.models import MetricSeries, Run, utcnow
from storage.reads import _histories_from_metrics

LOG = {  # step -> metrics: NaN, ±inf, -0.0, a subnormal, a sparse key, a step 0 and a large step
    0: {"val_loss": 2.5, "lr": 0.1},
    1: {"val_loss": math.nan, "val_accuracy": 0.1, "lr": 0.1},
    2: {"val_loss": math.inf, "val_accuracy": -math.inf, "lr": 0.05},
    5: {"val_loss": 0.1 + 0.2, "val_accuracy": 5e-324, "lr": 0.05},
    9: {"val_loss": -0.0, "val_accuracy": 1 / 3},
    100_000: {"val_loss": 1e308, "sparse": -1.5},
}


def _logged_run(engine) -> int:
    run_id = s.create_run(engine, {}, {"lr": 0.1})
    s.start_run(engine, run_id, pid=os.getpid(), host="test")
    for step, metrics in LOG.items():
        s.log_epoch(engine, run_id, step, metrics)
    return run_id


def _series_count(engine, run_id: int) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(MetricSeries).where(MetricSeries.run_id == run_id))


def _long_form(engine, ids, keys=None) -> dict:
    out = {i: {} for i in ids}
    with engine.connect() as conn:
        _histories_from_metrics(conn, list(ids), keys, out)
    return out


def _identical(a: dict, b: dict) -> bool:
    """Same runs, keys (in the same order), steps and values, bit for bit (NaN == NaN, -0.0 != 0.0)."""
    if list(a) != list(b):
        return False
    for run_id, series in a.items():
        if list(series) != list(b[run_id]):
            return False
        for key, points in series.items():
            other = b[run_id][key]
            if [p[0] for p in points] != [p[0] for p in other]:
                return False
            if any(type(p[0]) is not int or type(p[1]) is not float for p in points):
                return False
            if np.array([p[1] for p in points]).tobytes() != np.array([p[1] for p in other]).tobytes():
                return False
    return True


def test_a_finished_run_reads_its_packed_series_identical_to_the_points(engine):
    run_id, running = _logged_run(engine), _logged_run(engine)
    assert s.finish_run(engine, run_id, "completed") == "completed"
    assert _series_count(engine, run_id) == 4 and _series_count(engine, running) == 0
    for keys in (None, ["val_loss", "sparse"], ["val_accuracy"], ["missing"]):
        histories = s.get_metric_histories(engine, [running, run_id], keys)
        assert list(histories) == [running, run_id]
        assert _identical(histories, _long_form(engine, [running, run_id], keys)), keys
    assert _identical({run_id: s.get_metric_histories(engine, [run_id])[run_id]},
                      {run_id: s.get_metric_histories(engine, [running])[running]})
    sparse = s.get_metric_history(engine, run_id)["sparse"]
    assert sparse == [(100_000, -1.5)]


def test_histories_read_the_packed_series_not_the_points(sqlite_engine):
    ids = [_logged_run(sqlite_engine) for _ in range(3)]
    for run_id in ids[:2]:
        s.finish_run(sqlite_engine, run_id, "failed", error="boom")
    statements = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda conn, cur, stmt, *a: statements.append(stmt))
    s.get_metric_histories(sqlite_engine, ids[:2])
    assert not [q for q in statements if "FROM metrics" in q]
    statements.clear()
    s.get_metric_histories(sqlite_engine, ids)  # the running one from the points, that run only
    assert len([q for q in statements if "FROM metrics" in q]) == 1


def test_a_point_logged_after_the_end_drops_the_series_and_finishing_again_repacks(engine):
    run_id = _logged_run(engine)
    with write_tx(engine) as conn:  # a stale heartbeat: the reaper will take it for dead
        conn.execute(update(Run).where(Run.id == run_id).values(
            heartbeat_at=utcnow() - timedelta(seconds=60), host=socket.gethostname(), pid=2 ** 22 + 1))
    assert s.mark_crashed_runs(engine) == [run_id]
    assert _series_count(engine, run_id) == 4
    assert _identical(s.get_metric_histories(engine, [run_id]), _long_form(engine, [run_id]))
    s.log_epoch(engine, run_id, 5, {"val_loss": 0.25, "late": 1.0})  # the process was alive after all
    assert _series_count(engine, run_id) == 0
    history = s.get_metric_histories(engine, [run_id])
    assert (5, 0.25) in history[run_id]["val_loss"] and history[run_id]["late"] == [(5, 1.0)]
    assert s.finish_run(engine, run_id, "completed") == "completed"  # corrects the crashed guess
    assert _series_count(engine, run_id) == 5
    assert _identical(s.get_metric_histories(engine, [run_id]), history)


def test_deleting_a_run_deletes_its_series(engine):
    run_id, other = _logged_run(engine), _logged_run(engine)
    s.finish_run(engine, run_id, "cancelled")
    s.finish_run(engine, other, "completed")
    assert s.delete_runs(engine, [run_id]) == 1
    assert _series_count(engine, run_id) == 0 and _series_count(engine, other) == 4


def test_a_run_without_points_finishes_without_series(engine):
    run_id = s.create_run(engine, {}, {})
    s.finish_run(engine, run_id, "failed", error="no data")
    assert _series_count(engine, run_id) == 0
    assert s.get_metric_histories(engine, [run_id]) == {run_id: {}}


def test_a_database_at_0003_is_migrated_and_its_finished_runs_get_packed_series(sqlite_url):
    engine = make_engine(sqlite_url)
    with write_tx(engine) as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003_running_index")
    engine.dispose()
    with write_tx(engine) as conn:  # a finished run as 0003 left it: points, no packed series
        conn.execute(text(
            "INSERT INTO runs (id, name, status, created_at, seed, model, dataset, spec, notes, engine_version, "
            "diverged, cancel_requested, epochs_planned, epochs_done, host) VALUES "
            "(3, 'old', 'completed', '2025-01-02 03:04:06.000000', 0, 'mlp', 'digits', '{}', '', '', 1, 0, 2, 2, '')"))
        conn.execute(text("INSERT INTO metrics (run_id, key, step, value, flag) VALUES "
                          "(3, 'val_loss', 1, 0.9, 0), (3, 'val_loss', 2, NULL, 2)"))
        conn.execute(text("INSERT INTO metric_summary (run_id, key, last_value, last_step, last_flag, best_value, "
                          "best_step, nonfinite_count) VALUES (3, 'val_loss', NULL, 2, 2, 0.9, 1, 1)"))
    engine.dispose()
    engine = s.open_db(sqlite_url)
    with engine.connect() as conn:
        assert current_revisions(conn) == (s.head_revision(),) == ("0008_worker",)
    assert s.get_run(engine, 3).name == "old"
    assert _series_count(engine, 3) == 1  # backfilled by 0005 from its points, +inf restored from its flag
    assert s.get_metric_history(engine, 3) == {"val_loss": [(1, 0.9), (2, math.inf)]}
    run_id = _logged_run(engine)
    s.finish_run(engine, run_id, "completed")
    assert _series_count(engine, run_id) == 4
    s.close_all()
