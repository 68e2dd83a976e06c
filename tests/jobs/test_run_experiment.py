"""`run_experiment` and the worker: one path from a spec to a recorded run, failures kept."""

from __future__ import annotations

import math

import pytest

from engine.spec import SpecError
from jobs.queue import enqueue
from jobs.run import run_experiment
from jobs.sweep import expand_sweep
from storage import reads
from storage.db import open_db


def test_every_epoch_is_recorded_with_the_spec_and_params(db_url):
    calls = []
    result = run_experiment({"dataset": "digits", "epochs": 3, "hidden": "16"}, db_url,
                            on_progress=lambda rec, n: calls.append((rec.epoch, n)))
    assert result.status == "completed" and calls == [(1, 3), (2, 3), (3, 3)]
    db = open_db(db_url)
    hist = reads.get_metric_history(db, result.run_id)
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "epoch_seconds"):
        assert [s for s, _ in hist[key]] == [1, 2, 3]
    run = reads.get_run(db, result.run_id)
    assert run.spec["hidden"] == [16] and run.params["optimizer"] == "adam"
    assert run.num_params == 64 * 16 + 16 + 16 * 10 + 10


def test_should_stop_marks_the_run_cancelled_and_keeps_its_epochs(db_url):
    seen = []
    result = run_experiment({"dataset": "digits", "epochs": 50, "hidden": "16"}, db_url,
                            on_progress=lambda rec, n: seen.append(rec.epoch), should_stop=lambda: len(seen) >= 2)
    assert result.status == "cancelled"
    run = reads.get_run(open_db(db_url), result.run_id)
    assert run.status == "cancelled" and run.epochs_done == 2


def test_a_diverged_run_is_stored_and_flagged(db_url):
    result = run_experiment({"dataset": "digits", "epochs": 5, "optimizer": "sgd", "lr": 10.0,
                             "hidden": "256,256"}, db_url)
    run = reads.get_run(open_db(db_url), result.run_id)
    hist = reads.get_metric_history(open_db(db_url), result.run_id)
    assert run.diverged
    assert any(not math.isfinite(v) for _, v in hist["train_loss"])


def test_a_crash_inside_training_marks_the_run_failed_with_the_traceback(db_url, monkeypatch):
    import engine.experiment as ex

    def boom(*a, **k):
        raise RuntimeError("simulated failure inside training")

    monkeypatch.setattr("jobs.run.run_training", boom)
    result = run_experiment({"dataset": "xor", "epochs": 2, "hidden": "4"}, db_url)
    run = reads.get_run(open_db(db_url), result.run_id)
    assert run.status == "failed" and "simulated failure inside training" in run.error
    assert "Traceback" in run.error
    assert ex is not None


def test_a_bad_spec_is_refused_before_any_row_exists(db_url):
    with pytest.raises(SpecError, match="lr"):
        run_experiment({"lr": -1}, db_url)
    assert reads.count_runs(open_db(db_url)) == 0


def test_a_sweep_is_one_experiment_and_all_or_nothing(db_url):
    specs = expand_sweep({"dataset": "xor", "hidden": "4", "epochs": 2},
                         "optimizer = sgd, momentum, adam\ndropout = 0, 0.5\nseed = 0..1")
    assert len(specs) == 12
    ids = enqueue(specs, db_url, experiment="opt-x-dropout")
    db = open_db(db_url)
    runs = reads.list_runs(db, experiment="opt-x-dropout", limit=100)
    assert sorted(r.id for r in runs) == sorted(ids) and all(r.status == "queued" for r in runs)
    with pytest.raises(SpecError, match="dropout"):
        expand_sweep({"dataset": "xor"}, "dropout = 0, 1.5")
    with pytest.raises(SpecError, match="unknown setting"):
        expand_sweep({"dataset": "xor"}, "colour = red")
