"""RunRecorder: epochs committed in batches (the first at once), a heartbeat thread, Cancel as a stop request."""

from __future__ import annotations

import math

import pytest

import storage as s
from engine.experiment import prepare, run_training
from engine.spec import ExperimentSpec
from engine.train import EpochRecord, TrainSummary
from jobs.recorder import RunRecorder


@pytest.fixture
def sqlite_engine(db_url):
    return s.open_db(db_url)


def _record(epoch: int, **extra) -> EpochRecord:
    metrics = {"train_loss": 1.0 / epoch, "val_loss": 1.2 / epoch, "train_accuracy": 0.5, "val_accuracy": 0.4,
               "lr": 0.1, "epoch_seconds": 0.01, **extra}
    return EpochRecord(epoch, metrics["train_loss"], metrics["val_loss"], metrics, 0.1, 0.01)


def _started_run(engine) -> int:
    run_id = s.create_run(engine, {}, {})
    s.start_run(engine, run_id, pid=1, host="h")
    return run_id


def test_the_first_epoch_is_committed_at_once_and_fast_epochs_wait_for_the_batch(sqlite_engine):
    run_id = _started_run(sqlite_engine)
    recorder = RunRecorder(sqlite_engine, run_id, commit_every_s=3600, heartbeat_every_s=3600)
    recorder.on_train_start({"epochs": 5})
    recorder.on_epoch_end(_record(1))
    assert s.get_run(sqlite_engine, run_id).epochs_done == 1  # a new run shows life at once
    for epoch in (2, 3, 4):
        recorder.on_epoch_end(_record(epoch))
    assert s.get_run(sqlite_engine, run_id).epochs_done == 1  # gathered, not committed yet
    recorder.on_train_end(TrainSummary(epochs_run=4, outcome="completed"))
    assert recorder.finish("completed", metrics={"test_accuracy": 0.5}, step=4) == "completed"
    run = s.get_run(sqlite_engine, run_id)
    assert (run.status, run.epochs_done) == ("completed", 4)  # the rest came with the final status
    assert run.summary["test_accuracy"]["last_step"] == 4
    assert recorder.commits == 1 and recorder.committed == 1
    assert [st for st, _ in s.get_metric_history(sqlite_engine, run_id)["val_loss"]] == [1, 2, 3, 4]


def test_a_batch_is_committed_once_it_would_be_older_than_the_commit_interval(sqlite_engine):
    run_id = _started_run(sqlite_engine)
    now = [0.0]
    recorder = RunRecorder(sqlite_engine, run_id, commit_every_s=1.0, heartbeat_every_s=3600, clock=lambda: now[0])
    recorder.on_train_start({"epochs": 100})
    recorder.on_epoch_end(_record(1))
    recorder.on_epoch_end(_record(2))
    assert recorder.committed == 1
    now[0] += 1.05  # the next epoch ends more than the interval after the last commit
    recorder.on_epoch_end(_record(3))
    assert recorder.committed == 3 and s.get_run(sqlite_engine, run_id).epochs_done == 3
    recorder.finish("completed")


def test_a_commit_brings_back_cancel_and_every_epoch_is_kept(sqlite_engine):
    run_id = _started_run(sqlite_engine)
    recorder = RunRecorder(sqlite_engine, run_id, commit_every_s=0.0, heartbeat_every_s=3600)
    recorder.on_train_start({"epochs": 5})
    assert not recorder.on_epoch_end(_record(1))
    s.request_cancel(sqlite_engine, run_id)
    assert recorder.on_epoch_end(_record(2, grad_norm=float("inf"))) is True
    assert recorder.should_stop()
    recorder.on_train_end(TrainSummary(epochs_run=2, outcome="stopped", stopped_by="RunRecorder"))
    assert recorder.finish("cancelled") == "cancelled"
    run = s.get_run(sqlite_engine, run_id)
    assert (run.epochs_done, run.diverged) == (2, True)
    history = s.get_metric_history(sqlite_engine, run_id)
    assert history["val_loss"] == [(1, 1.2), (2, 0.6)] and math.isinf(history["grad_norm"][0][1])


def test_a_heartbeat_records_liveness_picks_up_cancel_and_ends_with_the_run(sqlite_engine):
    run_id = _started_run(sqlite_engine)
    before = s.get_run(sqlite_engine, run_id).heartbeat_at
    recorder = RunRecorder(sqlite_engine, run_id)
    assert recorder.beat() is True
    assert s.get_run(sqlite_engine, run_id).heartbeat_at >= before
    assert not recorder.should_stop()
    s.request_cancel(sqlite_engine, run_id)
    recorder.beat()
    assert recorder.should_stop()  # seen mid-epoch, through Trainer.fit(interrupt=recorder.should_stop)
    s.finish_run(sqlite_engine, run_id, "cancelled")
    assert recorder.beat() is False  # the thread stops itself once the run has ended


def test_one_heartbeat_thread_beats_for_every_run_of_the_process_and_drops_an_ended_one(sqlite_engine):
    import threading
    import time

    from jobs.recorder import HEARTBEATS

    a, b = _started_run(sqlite_engine), _started_run(sqlite_engine)
    stale = s.get_run(sqlite_engine, a).heartbeat_at
    ra = RunRecorder(sqlite_engine, a, heartbeat_every_s=0.05)
    rb = RunRecorder(sqlite_engine, b, heartbeat_every_s=0.05)
    ra.start_heartbeat()
    rb.start_heartbeat()
    s.request_cancel(sqlite_engine, b)
    deadline = time.monotonic() + 10
    while not (rb.should_stop() and s.get_run(sqlite_engine, a).heartbeat_at > stale):
        assert time.monotonic() < deadline, "no beat reached the store"
        time.sleep(0.01)
    assert not ra.should_stop()  # each run's own Cancel flag
    threads = [t for t in threading.enumerate() if t.name == "nnlab-heartbeat"]
    assert len(threads) == 1
    s.finish_run(sqlite_engine, a, "failed", error="ended elsewhere")  # its next beat drops it
    rb.stop_heartbeat()  # returns once no beat of it is under way
    while ra in HEARTBEATS._due:  # dropped at its next beat
        assert time.monotonic() < deadline, "the ended run was never dropped"
        time.sleep(0.01)
    beat_at = s.get_run(sqlite_engine, b).heartbeat_at
    time.sleep(0.2)  # four beat intervals: none may come
    assert s.get_run(sqlite_engine, b).heartbeat_at == beat_at  # stopped: no more beats
    assert ra not in HEARTBEATS._due and rb not in HEARTBEATS._due
    rb.start_heartbeat()  # the next run of a warm worker: the same thread
    assert [t for t in threading.enumerate() if t.name == "nnlab-heartbeat"] == threads
    rb.stop_heartbeat()


def test_recorder_with_the_real_trainer_records_a_whole_run(sqlite_engine):
    spec = ExperimentSpec(model="mlp", dataset="xor", hidden=(4,), epochs=6, lr=0.1, optimizer="sgd", batch_size=4)
    run_id = s.create_run(sqlite_engine, spec.to_dict(), spec.params(), epochs_planned=spec.epochs)
    s.start_run(sqlite_engine, run_id, pid=1, host="h")
    exp = prepare(spec)
    recorder = RunRecorder(sqlite_engine, run_id)
    summary = run_training(exp, [recorder], interrupt=recorder.should_stop)
    recorder.finish("completed")
    run = s.get_run(sqlite_engine, run_id)
    assert summary.epochs_run == 6 and run.epochs_done == 6 and run.status == "completed"
    assert recorder.commits < 6  # tiny epochs share transactions
    history = s.get_metric_history(sqlite_engine, run_id, ["val_loss"])["val_loss"]
    assert [st for st, _ in history] == list(range(1, 7))
    assert history[-1][1] == summary.final["val_loss"]


def test_checkpoints_keep_every_epoch_while_they_fit_and_thin_evenly_when_not():
    from jobs.recorder import checkpoint_stride

    assert checkpoint_stride(1000, 100, 10) == 1
    assert checkpoint_stride(1000, 100, 20) == 3   # epochs 1, 4, ..., 19 and the latest: 8 of the 10 that fit
    assert checkpoint_stride(1000, 600, 20) == 0   # one fits: only the latest
    assert checkpoint_stride(0, 600, 20) == 0
    # a 1 ms encode against 5 ms epochs: every 10th epoch keeps encoding at 2% of the training time
    # (the recorder's share is CHECKPOINT_SHARE)
    assert checkpoint_stride(10**9, 100, 20, encode_s=0.001, epoch_s=0.005, share=0.02) == 10
    assert checkpoint_stride(1000, 100, 20, encode_s=0.001, epoch_s=1.0, share=0.02) == 3  # bytes decide
    assert checkpoint_stride(0, 100, 20, encode_s=0.001, epoch_s=0.005, share=0.02) == 0


def _checkpointed_run(db_url, epochs: int, budget_mb: float, share, clock=None,
                      after_s: float = 0.0) -> tuple[int, RunRecorder]:
    """A digits MLP trained through a RunRecorder with `budget_mb`, time share `share`, and its first
    checkpoint after `after_s` of training (0: at its first epoch)."""
    from storage.db import open_db

    db = open_db(db_url)
    spec = ExperimentSpec(model="mlp", dataset="digits", hidden=(16,), epochs=epochs, snapshots=False)
    run_id = s.create_run(db, spec.to_dict(), spec.params(), epochs_planned=spec.epochs)
    s.start_run(db, run_id, pid=1, host="h")
    extra = {} if clock is None else {"clock": clock}
    recorder = RunRecorder(db, run_id, checkpoint_budget_mb=budget_mb, checkpoint_share=share,
                           checkpoint_after_s=after_s, **extra)
    run_training(prepare(spec), [recorder], interrupt=recorder.should_stop)
    recorder.finish("completed")
    return run_id, recorder


def test_a_run_stores_its_latest_checkpoint_and_the_kept_ones_within_its_byte_budget(db_url):
    from storage.checkpoints import list_checkpoints
    from storage.db import open_db

    db = open_db(db_url)
    every, _ = _checkpointed_run(db_url, 6, 2.0, share=None)
    assert [c.epoch for c in list_checkpoints(db, every)] == [1, 2, 3, 4, 5, 6]
    size = list_checkpoints(db, every)[0].nbytes
    thinned, _ = _checkpointed_run(db_url, 6, 3.5 * size / 1e6, share=None)
    assert [c.epoch for c in list_checkpoints(db, thinned)] == [1, 4, 6]  # 3 fit: stride 3 from the first
    latest, _ = _checkpointed_run(db_url, 6, 0, share=None)
    assert [c.epoch for c in list_checkpoints(db, latest)] == [6]


def test_kept_checkpoints_take_at_most_their_share_of_the_training_time(db_url):
    """Encoding and writing (real) against epochs of 1 s (a clock that advances 1 s per reading): a tiny
    share keeps only the first and the planned last (no commit in between ever pays for one); a share
    that pays for one per epoch keeps every epoch."""
    from storage.checkpoints import list_checkpoints
    from storage.db import open_db

    def one_second_epochs():
        t = 0.0

        def clock():
            nonlocal t
            t += 1.0
            return t
        return clock

    db = open_db(db_url)
    none, recorder = _checkpointed_run(db_url, 8, 2.0, share=1e-9, clock=one_second_epochs())
    assert [c.epoch for c in list_checkpoints(db, none)] == [1, 8]
    assert recorder.commits >= 7 and recorder.checkpoints_taken == 2  # a commit a (clock) second, none paid for
    every, _ = _checkpointed_run(db_url, 8, 2.0, share=0.5, clock=one_second_epochs())
    assert [c.epoch for c in list_checkpoints(db, every)] == list(range(1, 9))


def test_a_run_from_scratch_takes_its_first_checkpoint_after_its_first_training_seconds(db_url):
    """Epochs of a (clock) second: with checkpoints after 3.5 s, epochs 1-3 have none and every later one
    has one (the budget fits them all); a run shorter than that has none."""
    from storage.checkpoints import list_checkpoints
    from storage.db import open_db

    def one_second_epochs():
        t = 0.0

        def clock():
            nonlocal t
            t += 1.0  # an epoch is the time between the recorder's readings: a second
            return t
        return clock

    db = open_db(db_url)
    late, recorder = _checkpointed_run(db_url, 8, 2.0, share=None, clock=one_second_epochs(), after_s=3.5)
    assert [c.epoch for c in list_checkpoints(db, late)] == [4, 5, 6, 7, 8]
    assert recorder.checkpoints_taken == 5
    short, recorder = _checkpointed_run(db_url, 3, 2.0, share=None, clock=one_second_epochs(), after_s=3.5)
    assert list_checkpoints(db, short) == [] and recorder.checkpoints_taken == 0
