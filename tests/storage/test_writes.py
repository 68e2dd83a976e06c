"""Creating, changing and ending runs; constraints the database itself enforces."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

import storage as s
from storage.db import write_tx
from storage.models import Metric, Param, Run, RunTag

EVERY_PARAM = {"optimizer": "adam", "unicode": "Ünïcødé ✓ 学习", "empty": "", "lr": 0.001, "tiny": 1e-300,
               "big": 2**53 + 1, "negative": -7, "flag": True, "off": False, "nothing": None,
               "hidden": [64, 32], "nested": {"a": [1, 2.5, "x"], "b": None}, "looks_numeric": "0.1"}


def test_a_run_round_trips_every_kind_of_value(engine):
    spec = {"lr": 0.001, "hidden": [64, 32], "name": "学习 run", "nested": {"deep": [1, {"x": None}]}}
    tags = ["baseline", "ünïcode", "emoji 🚀", "sp ace"]
    notes = "long notes ✓ " * 20_000
    run_id = s.create_run(engine, spec, EVERY_PARAM, name="名前", experiment="expé", tags=tags, seed=42,
                          model="mlp", dataset="digits", epochs_planned=30, engine_version="0.1.0")
    s.set_note(engine, run_id, notes)
    run = s.get_run(engine, run_id)
    assert run.params == EVERY_PARAM
    assert type(run.params["big"]) is int and type(run.params["flag"]) is bool
    assert run.spec == spec
    assert sorted(run.tags) == sorted(tags)
    assert run.notes == notes
    assert (run.name, run.experiment, run.seed, run.model, run.dataset) == ("名前", "expé", 42, "mlp", "digits")
    assert (run.status, run.epochs_planned, run.engine_version) == ("queued", 30, "0.1.0")
    assert run.created_at.tzinfo is not None and run.created_at.utcoffset().total_seconds() == 0
    assert s.get_params_table(engine, [run_id]) == {run_id: EVERY_PARAM}


def test_the_database_refuses_a_bad_status(engine):
    run_id = s.create_run(engine, {}, {})
    with pytest.raises(IntegrityError, match="ck_runs_status"):
        with write_tx(engine) as conn:
            conn.execute(update(Run).where(Run.id == run_id).values(status="exploded"))
    assert s.get_run(engine, run_id).status == "queued"
    with pytest.raises(ValueError, match="unknown status"):
        s.create_run(engine, {}, {}, status="exploded")


def test_the_database_refuses_a_bad_metric_flag_and_an_orphan_metric(engine):
    run_id = s.create_run(engine, {}, {})
    with pytest.raises(IntegrityError, match="ck_metrics_flag"):
        with write_tx(engine) as conn:
            conn.execute(Metric.__table__.insert().values(run_id=run_id, key="k", step=1, value=None, flag=9))
    with pytest.raises(IntegrityError):
        with write_tx(engine) as conn:
            conn.execute(Metric.__table__.insert().values(run_id=run_id + 1000, key="k", step=1, value=1.0, flag=0))


def test_start_and_finish_record_times_and_error(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {}, epochs_planned=3)
    s.start_run(sqlite_engine, run_id, pid=123, host="box")
    run = s.get_run(sqlite_engine, run_id)
    assert (run.status, run.pid, run.host) == ("running", 123, "box")
    assert run.started_at is not None and run.heartbeat_at is not None and run.duration_s >= 0
    assert s.finish_run(sqlite_engine, run_id, "failed", error="Traceback ... ValueError: bad") == "failed"
    run = s.get_run(sqlite_engine, run_id)
    assert run.status == "failed" and run.error.endswith("ValueError: bad") and run.ended_at >= run.started_at


def test_finish_run_never_overwrites_a_final_status_except_a_crash_guess(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, run_id, pid=1, host="h")
    s.finish_run(sqlite_engine, run_id, "failed", error="boom")
    assert s.finish_run(sqlite_engine, run_id, "completed") == "failed"
    assert s.get_run(sqlite_engine, run_id).error == "boom"

    crashed = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, crashed, pid=1, host="h")
    s.finish_run(sqlite_engine, crashed, "crashed", error="no heartbeat")
    assert s.finish_run(sqlite_engine, crashed, "completed") == "completed"  # the process was alive after all
    assert s.get_run(sqlite_engine, crashed).error is None
    with pytest.raises(ValueError, match="final status"):
        s.finish_run(sqlite_engine, crashed, "running")


def test_cancel_cancels_a_queued_run_at_once_and_flags_a_running_one(sqlite_engine):
    queued = s.create_run(sqlite_engine, {}, {})
    assert s.request_cancel(sqlite_engine, queued) == "cancelled"
    assert s.get_run(sqlite_engine, queued).ended_at is not None
    running = s.create_run(sqlite_engine, {}, {}, epochs_planned=10)
    s.start_run(sqlite_engine, running, pid=1, host="h")
    assert not s.get_run(sqlite_engine, running).cancel_requested
    assert s.request_cancel(sqlite_engine, running) == "running"
    assert s.get_run(sqlite_engine, running).cancel_requested
    assert s.log_epoch(sqlite_engine, running, 1, {"val_loss": 1.0}) is True  # the write reads Cancel back
    # The runner reports "completed" when the trainer stopped early; Cancel makes it "cancelled".
    assert s.finish_run(sqlite_engine, running, "completed") == "cancelled"
    assert s.request_cancel(sqlite_engine, running) == "cancelled"


def test_tags_notes_names_and_fields_can_be_changed(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {}, tags=["a"])
    s.tag_run(sqlite_engine, run_id, ["b", "a", " c ", ""])
    s.untag_run(sqlite_engine, run_id, ["a", "missing"])
    s.rename_run(sqlite_engine, run_id, "renamed")
    s.set_run_fields(sqlite_engine, run_id, num_params=10**10, epochs_planned=5)
    run = s.get_run(sqlite_engine, run_id)
    assert (run.tags, run.name, run.num_params, run.epochs_planned) == (["b", "c"], "renamed", 10**10, 5)
    with pytest.raises(ValueError, match="cannot set"):
        s.set_run_fields(sqlite_engine, run_id, status="completed")
    with pytest.raises(ValueError, match="longer than"):
        s.tag_run(sqlite_engine, run_id, "x" * 101)


def test_unknown_runs_raise_run_not_found(sqlite_engine):
    for call in (lambda: s.log_epoch(sqlite_engine, 999, 1, {"a": 1.0}),
                 lambda: s.start_run(sqlite_engine, 999, pid=1, host="h"),
                 lambda: s.finish_run(sqlite_engine, 999, "completed"),
                 lambda: s.request_cancel(sqlite_engine, 999),
                 lambda: s.tag_run(sqlite_engine, 999, "t")):
        with pytest.raises(s.RunNotFound):
            call()
    assert s.get_run(sqlite_engine, 999) is None


def test_delete_runs_removes_everything_that_belongs_to_them(engine):
    keep = s.create_run(engine, {}, {"a": 1}, tags=["t"])
    gone = s.create_run(engine, {}, {"a": 2}, tags=["t"])
    for run_id in (keep, gone):
        s.log_epoch(engine, run_id, 1, {"val_loss": 0.5})
    s.write_snapshot(engine, gone, 1, "weights", "W", [1, 2])
    assert s.delete_runs(engine, [gone, 12345]) == 1
    with engine.connect() as conn:
        for model in (Metric, Param, RunTag):
            assert conn.scalar(select(func.count()).select_from(model).where(model.run_id == gone)) == 0
        assert conn.scalar(text("SELECT count(*) FROM metric_summary WHERE run_id = :r"), {"r": gone}) == 0
        assert conn.scalar(text("SELECT count(*) FROM snapshots WHERE run_id = :r"), {"r": gone}) == 0
    assert s.get_run(engine, keep).summary["val_loss"]["last"] == 0.5
    assert s.delete_runs(engine, []) == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_crashed_runs_needs_a_stale_heartbeat_and_a_dead_process(sqlite_engine):
    import os
    import socket

    host = socket.gethostname()
    dead = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, dead, pid=_dead_pid(), host=host)
    alive = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, alive, pid=os.getpid(), host=host)
    remote = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, remote, pid=1, host="another-host")
    assert s.mark_crashed_runs(sqlite_engine, stale_after_s=3600) == []  # heartbeats are fresh
    assert s.mark_crashed_runs(sqlite_engine, stale_after_s=0.0) == [dead]
    assert s.mark_crashed_runs(sqlite_engine, stale_after_s=0.0, remote_stale_after_s=0.0) == [remote]
    statuses = {r.id: r.status for r in s.list_runs(sqlite_engine, reap=False)}
    assert statuses == {dead: "crashed", alive: "running", remote: "crashed"}
    assert "stopped without finishing" in s.get_run(sqlite_engine, dead).error
