"""WriterProcess: a run's writes in a process of their own, in order; errors come back to the trainer."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

import storage as s
from engine.train import EpochRecord, TrainSummary
from jobs.run import run_experiment
from storage.snapshots_extra import snapshot_index
from storage.writer_process import WriterFailed, WriterProcess

XOR = {"model": "mlp", "dataset": "xor", "hidden": [4], "epochs": 8, "lr": 0.1, "optimizer": "sgd", "batch_size": 4}


def _record(epoch: int) -> EpochRecord:
    m = {"train_loss": 1.0 / epoch, "val_loss": 1.0 / epoch, "lr": 0.1}
    return EpochRecord(epoch, m["train_loss"], m["val_loss"], m, 0.1, 0.0)


def _refuse(engine, table: str, when: str, message: str) -> None:
    """A trigger that makes SQLite itself refuse some inserts: a real database error, not a mock."""
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN {when} "
                          f"BEGIN SELECT RAISE(ABORT, '{message}'); END"))


def test_epochs_are_written_in_order_and_cancel_comes_back(sqlite_url):
    engine = s.open_db(sqlite_url)
    run_id = s.create_run(engine, {}, {})
    s.start_run(engine, run_id, pid=1, host="h")
    with WriterProcess(sqlite_url, run_id, max_pending=3) as writer:
        recorder = s.DBRecorder(engine, run_id, heartbeat_every_s=3600, writer=writer)
        recorder.on_train_start({"epochs": 40})
        for epoch in range(1, 31):  # ten times max_pending: the trainer waits when the writer lags
            assert recorder.on_epoch_end(_record(epoch)) is False
            assert writer.pending <= 3
        s.request_cancel(engine, run_id)
        recorder.on_epoch_end(_record(31))  # its transaction reads the Cancel back, in the writer
        writer.flush()
        assert recorder.should_stop() and recorder.on_epoch_end(_record(32)) is True
        recorder.on_train_end(TrainSummary(epochs_run=32, outcome="stopped", stopped_by="DBRecorder"))
        assert recorder.committed == 32 and not recorder.heartbeat_alive and writer.pending == 0
    assert writer.writer_cpu_s > 0  # the writer reported its own CPU time when it closed
    history = s.get_metric_history(engine, run_id, ["val_loss"])["val_loss"]
    assert [step for step, _ in history] == list(range(1, 33))
    assert s.get_run(engine, run_id).epochs_done == 32
    s.close_all()


def test_a_database_error_mid_run_fails_the_run_with_its_message_and_keeps_earlier_epochs(sqlite_url):
    engine = s.open_db(sqlite_url)
    _refuse(engine, "metrics", "NEW.step = 4", "the disk said no")
    result = run_experiment(XOR, sqlite_url)
    assert result.status == "failed" and "the disk said no" in result.error
    assert "WriterFailed" in result.error
    run = s.get_run(engine, result.run_id)
    assert run.status == "failed" and "the disk said no" in run.error
    history = s.get_metric_history(engine, result.run_id, ["val_loss"])["val_loss"]
    assert [step for step, _ in history] == [1, 2, 3]  # epoch 4 failed; later ones were not written
    s.close_all()


def test_writing_after_a_failed_epoch_raises_and_close_reports_without_raising(sqlite_url):
    engine = s.open_db(sqlite_url)
    _refuse(engine, "metrics", "NEW.step = 2", "refused")
    run_id = s.create_run(engine, {}, {})
    writer = WriterProcess(sqlite_url, run_id)
    writer.write_epoch(1, {"loss": 1.0})
    writer.write_epoch(2, {"loss": 0.5})
    with pytest.raises(WriterFailed, match="refused"):
        writer.flush()
    with pytest.raises(WriterFailed, match="refused"):
        writer.write_epoch(3, {"loss": 0.2})
    assert "refused" in writer.close()
    assert [st for st, _ in s.get_metric_history(engine, run_id, ["loss"])["loss"]] == [1]
    s.close_all()


def test_a_failed_snapshot_write_stops_snapshots_but_not_the_run(sqlite_url):
    engine = s.open_db(sqlite_url)
    _refuse(engine, "snapshots", "NEW.epoch = 3 AND NEW.kind <> 'note'", "no room for views")
    result = run_experiment(XOR, sqlite_url)
    assert result.status == "completed"
    epochs = snapshot_index(engine, result.run_id)["stats"]
    assert epochs[:3] == [0, 1, 2] and 3 not in epochs and 8 not in epochs  # stopped: no last views
    notes = [r for r in s.list_snapshots(engine, result.run_id) if r["kind"] == "note" and r["name"] == "error"]
    assert notes and "no room for views" in s.read_snapshot(engine, result.run_id, "note", "error",
                                                             notes[0]["epoch"])["text"]
    assert len(s.get_metric_history(engine, result.run_id, ["val_loss"])["val_loss"]) == 8
    s.close_all()


def test_a_run_has_every_epoch_and_its_last_views_before_its_final_status(sqlite_url):
    result = run_experiment(XOR, sqlite_url)
    engine = s.open_db(sqlite_url)
    run = s.get_run(engine, result.run_id)
    assert run.status == "completed" and run.epochs_done == 8
    history = s.get_metric_history(engine, result.run_id, ["val_loss"])["val_loss"]
    assert [step for step, _ in history] == list(range(1, 9))
    assert 8 in snapshot_index(engine, result.run_id)["boundary"]  # sent at train end, written before the status
    s.close_all()


def test_views_computed_in_the_writer_equal_views_computed_in_the_trainer(sqlite_url, tmp_path):
    """The writer rebuilds the run from its spec and loads each state sent: same views, other core."""
    from engine.experiment import prepare, run_training
    from engine.inspect.schedule import TimeBudget
    from engine.spec import parse_spec
    from storage.snapshot_recorder import SnapshotRecorder

    spec = {**XOR, "model": "mlp", "dataset": "moons", "hidden": [8], "epochs": 6, "batch_size": 32}
    remote = run_experiment(spec, sqlite_url)
    engine = s.open_db(sqlite_url)
    local_engine = s.open_db(f"sqlite:///{tmp_path}/local.db")
    local_id = s.create_run(local_engine, {}, {})
    run_training(prepare(parse_spec(spec)), [SnapshotRecorder(
        local_engine, local_id, strict=True, time_budget=TimeBudget(floor_s=float("inf")))])
    remote_rows = {(r["kind"], r["name"], r["epoch"]) for r in s.list_snapshots(engine, remote.run_id)}
    local_rows = {(r["kind"], r["name"], r["epoch"]) for r in s.list_snapshots(local_engine, local_id)}
    shared = {key for key in remote_rows & local_rows if key[0] != "note"}
    kinds = {kind for kind, _, _ in shared}
    assert {"boundary", "stats"} <= kinds and len(kinds) >= 4 and {e for _, _, e in shared} >= {0, 6}
    for kind, name, epoch in shared:
        a = s.read_snapshot(engine, remote.run_id, kind, name, epoch)
        b = s.read_snapshot(local_engine, local_id, kind, name, epoch)
        if isinstance(a, dict):
            assert a == b, (kind, name, epoch)
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"{kind} {name} {epoch}")
    s.close_all()


def test_a_writer_killed_on_its_own_fails_the_trainer_with_a_clear_error(sqlite_url):
    import os
    import signal

    engine = s.open_db(sqlite_url)
    run_id = s.create_run(engine, {}, {})
    writer = WriterProcess(sqlite_url, run_id)
    writer.write_epoch(1, {"loss": 1.0})
    writer.flush()
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(WriterFailed, match="writer process exited"):
        for step in range(2, 200):  # the pipe takes a few writes before the loss shows
            writer.write_epoch(step, {"loss": 1.0 / step})
            writer.flush()
    assert "exited" in writer.close()
    s.close_all()
