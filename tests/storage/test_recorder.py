"""DBRecorder: one transaction per epoch, a heartbeat thread, and Cancel as a stop request."""

from __future__ import annotations

import math

import storage as s
from engine.experiment import prepare, run_training
from engine.spec import ExperimentSpec
from engine.train import EpochRecord, TrainSummary


def _record(epoch: int, **extra) -> EpochRecord:
    metrics = {"train_loss": 1.0 / epoch, "val_loss": 1.2 / epoch, "train_accuracy": 0.5, "val_accuracy": 0.4,
               "lr": 0.1, "epoch_seconds": 0.01, **extra}
    return EpochRecord(epoch, metrics["train_loss"], metrics["val_loss"], metrics, 0.1, 0.01)


def test_recorder_logs_every_epoch_and_asks_to_stop_after_cancel(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, run_id, pid=1, host="h")
    recorder = s.DBRecorder(sqlite_engine, run_id, heartbeat_every_s=3600)
    recorder.on_train_start({"num_params": 1234, "epochs": 5})
    assert recorder.heartbeat_alive
    assert not recorder.on_epoch_end(_record(1))
    s.request_cancel(sqlite_engine, run_id)
    assert recorder.on_epoch_end(_record(2, grad_norm=float("inf"))) is True
    assert recorder.should_stop()
    recorder.on_train_end(TrainSummary(epochs_run=2, outcome="stopped", stopped_by="DBRecorder"))
    assert not recorder.heartbeat_alive
    run = s.get_run(sqlite_engine, run_id)
    assert (run.num_params, run.epochs_planned, run.epochs_done, run.diverged) == (1234, 5, 2, True)
    history = s.get_metric_history(sqlite_engine, run_id)
    assert set(history) == {"train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "epoch_seconds",
                            "grad_norm"}
    assert history["val_loss"] == [(1, 1.2), (2, 0.6)] and math.isinf(history["grad_norm"][0][1])


def test_a_heartbeat_records_liveness_picks_up_cancel_and_ends_with_the_run(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, run_id, pid=1, host="h")
    before = s.get_run(sqlite_engine, run_id).heartbeat_at
    recorder = s.DBRecorder(sqlite_engine, run_id)
    assert recorder.beat() is True
    assert s.get_run(sqlite_engine, run_id).heartbeat_at >= before
    assert not recorder.should_stop()
    s.request_cancel(sqlite_engine, run_id)
    recorder.beat()
    assert recorder.should_stop()  # seen mid-epoch, through Trainer.fit(interrupt=recorder.should_stop)
    s.finish_run(sqlite_engine, run_id, "cancelled")
    assert recorder.beat() is False  # the thread stops itself once the run has ended


def test_recorder_with_the_real_trainer_records_a_whole_run(sqlite_engine):
    spec = ExperimentSpec(model="mlp", dataset="xor", hidden=(4,), epochs=6, lr=0.1, optimizer="sgd", batch_size=4)
    run_id = s.create_run(sqlite_engine, spec.to_dict(), spec.params(), epochs_planned=spec.epochs)
    s.start_run(sqlite_engine, run_id, pid=1, host="h")
    exp = prepare(spec)
    recorder = s.DBRecorder(sqlite_engine, run_id)
    summary = run_training(exp, [recorder], interrupt=recorder.should_stop)
    s.finish_run(sqlite_engine, run_id, "completed")
    run = s.get_run(sqlite_engine, run_id)
    assert summary.epochs_run == 6 and run.epochs_done == 6 and run.status == "completed"
    assert run.num_params == exp.num_params and not recorder.heartbeat_alive
    history = s.get_metric_history(sqlite_engine, run_id, ["val_loss"])["val_loss"]
    assert [st for st, _ in history] == list(range(1, 7))
    assert history[-1][1] == summary.final["val_loss"]
