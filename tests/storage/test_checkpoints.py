"""Checkpoints in the store, and the verbs behind resume and fork: requeue a stopped run from an epoch,
queue a fork with its parent's history."""

from __future__ import annotations

import pytest

import storage as s
from storage.checkpoints import checkpoint_bytes, list_checkpoints, log_epochs_with_checkpoints, read_checkpoint
from storage.lineage import RunChanged, create_fork, lineage, requeue_run


def _run_with_epochs(engine, n=5, **kw) -> int:
    run_id = s.create_run(engine, {"epochs": n}, {"lr": 0.1, "epochs": n}, tags=["a"], epochs_planned=n, **kw)
    for e in range(1, n + 1):
        log_epochs_with_checkpoints(engine, run_id, [(e, {"val_loss": 1.0 / e, "val_accuracy": e / 10})],
                                    [(e, 1, bytes([e]) * 10)], drop=[e - 1] if e % 2 == 0 else [])
    s.finish_run(engine, run_id, "completed", epochs=[(n, {"test_loss": 0.5})])
    return run_id


def test_checkpoints_are_written_with_their_epochs_replaced_and_read_at_or_before(engine):
    run_id = _run_with_epochs(engine)
    # the odd epochs were dropped by the next even epoch's batch, except the last one
    assert [c.epoch for c in list_checkpoints(engine, run_id)] == [2, 4, 5]
    assert read_checkpoint(engine, run_id).data == bytes([5]) * 10
    assert read_checkpoint(engine, run_id, at_or_before=3).epoch == 2
    assert read_checkpoint(engine, run_id, at_or_before=1) is None
    log_epochs_with_checkpoints(engine, run_id, [], [(5, 1, b"new")])
    assert read_checkpoint(engine, run_id).data == b"new" and checkpoint_bytes(engine, [run_id]) == 23
    s.delete_runs(engine, [run_id])
    assert list_checkpoints(engine, run_id) == []


def test_a_requeued_run_loses_what_came_after_its_checkpoint_and_keeps_the_rest(engine):
    run_id = _run_with_epochs(engine)
    requeue_run(engine, run_id, from_epoch=2, expect_status="completed", spec={"epochs": 8}, epochs_planned=8)
    run = s.get_run(engine, run_id)
    assert (run.status, run.epochs_done, run.epochs_planned, run.ended_at, run.params["epochs"]) == (
        "queued", 2, 8, None, 8)
    assert run.spec == {"epochs": 8}
    assert s.get_metric_history(engine, run_id) == {"val_accuracy": [(1, 0.1), (2, 0.2)],
                                                    "val_loss": [(1, 1.0), (2, 0.5)]}
    assert run.summary["val_loss"]["best"] == 0.5 and run.summary["val_accuracy"]["last_step"] == 2
    assert [c.epoch for c in list_checkpoints(engine, run_id)] == [2]
    with pytest.raises(RunChanged):
        requeue_run(engine, run_id, from_epoch=2, expect_status="completed")


def test_a_fork_is_queued_with_its_parents_history_up_to_the_fork_epoch(engine):
    parent = _run_with_epochs(engine, experiment="e")
    fork = create_fork(engine, parent, 3, {"epochs": 6}, {"lr": 0.01}, name="f", model="mlp", dataset="digits",
                       seed=0, engine_version="x")
    run = s.get_run(engine, fork)
    assert (run.status, run.parent_run_id, run.fork_epoch, run.epochs_done, run.epochs_planned) == (
        "queued", parent, 3, 3, 6)
    assert (run.experiment, run.tags, run.params) == ("e", ["a"], {"lr": 0.01})
    history = s.get_metric_history(engine, fork)
    assert set(history) == {"val_loss", "val_accuracy"} and [st for st, _ in history["val_loss"]] == [1, 2, 3]
    assert run.summary["val_loss"]["last"] == pytest.approx(1 / 3)
    fork2 = create_fork(engine, fork, 4, {"epochs": 6}, {}, name="g", model="mlp", dataset="digits", seed=0,
                        engine_version="x")
    assert lineage(engine, fork2) == [(fork2, 4), (fork, 3), (parent, None)]
    s.delete_runs(engine, [parent])
    assert s.get_run(engine, fork).parent_run_id is None  # ON DELETE SET NULL
