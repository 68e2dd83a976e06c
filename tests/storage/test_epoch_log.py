"""EpochWriter: the recorder's writer keeps last/best in memory; what it stores must equal what the
stateless merge (a fresh log_epoch per epoch) stores, and Cancel comes back from the epoch's write."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import storage as s
from storage.epoch_log import MAX_ROWS, EpochWriter

KEYS = st.sampled_from(["train_loss", "val_loss", "val_accuracy", "lr"])
VALUES = st.one_of(st.floats(min_value=-10, max_value=10), st.sampled_from([float("nan"), float("inf"), -math.inf]))
# Steps may repeat and go backwards (a late log of an earlier epoch, a step logged twice).
EPOCHS = st.lists(st.tuples(st.integers(min_value=1, max_value=8), st.dictionaries(KEYS, VALUES, min_size=1)),
                  min_size=1, max_size=10)


def _summaries(engine, run_id: int) -> dict:
    summary = s.get_run(engine, run_id).summary
    return {k: {f: ("nan" if isinstance(v, float) and math.isnan(v) else v) for f, v in row.items()}
            for k, row in summary.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(epochs=EPOCHS)
def test_a_long_lived_writer_stores_what_a_fresh_merge_per_epoch_stores(engine, epochs):
    remembering, merging = s.create_run(engine, {}, {}), s.create_run(engine, {}, {})
    writer = EpochWriter(engine, remembering)
    for step, metrics in epochs:
        writer.write(step, metrics)
        s.log_epoch(engine, merging, step, metrics)
    assert _summaries(engine, remembering) == _summaries(engine, merging)
    a, b = s.get_run(engine, remembering), s.get_run(engine, merging)
    assert (a.epochs_done, a.diverged) == (b.epochs_done, b.diverged)
    assert s.get_metric_history(engine, remembering).keys() == s.get_metric_history(engine, merging).keys()


def test_a_new_writer_for_a_resumed_run_keeps_the_stored_best(engine):
    run_id = s.create_run(engine, {}, {})
    first = EpochWriter(engine, run_id)
    first.write(1, {"val_loss": 0.5, "val_accuracy": 0.9})
    first.write(2, {"val_loss": 0.7, "val_accuracy": 0.6})
    second = EpochWriter(engine, run_id)  # e.g. a restarted process: knows nothing yet
    second.write(3, {"val_loss": 0.6, "val_accuracy": 0.8})
    second.write(4, {"val_loss": 0.55, "val_accuracy": float("nan")})
    summary = s.get_run(engine, run_id).summary
    assert (summary["val_loss"]["best"], summary["val_loss"]["best_step"]) == (0.5, 1)
    assert (summary["val_accuracy"]["best"], summary["val_accuracy"]["best_step"]) == (0.9, 1)
    assert summary["val_loss"]["last"] == 0.55 and summary["val_loss"]["last_step"] == 4
    assert math.isnan(summary["val_accuracy"]["last"]) and summary["val_accuracy"]["nonfinite"] == 1
    second.write(5, {"val_loss": 0.4})
    assert s.get_run(engine, run_id).summary["val_loss"]["best_step"] == 5


def test_the_epoch_write_returns_the_cancel_request(engine):
    run_id = s.create_run(engine, {}, {})
    s.start_run(engine, run_id, pid=1, host="h")
    writer = EpochWriter(engine, run_id)
    assert writer.write(1, {"val_loss": 1.0}) is False
    s.request_cancel(engine, run_id)
    assert writer.write(2, {"val_loss": 0.9}) is True
    assert s.get_run(engine, run_id).epochs_done == 2  # the epoch that noticed Cancel is still recorded


def test_an_unknown_run_raises_and_leaves_the_writer_unchanged(sqlite_engine):
    writer = EpochWriter(sqlite_engine, 12345)
    with pytest.raises(s.RunNotFound):
        writer.write(1, {"val_loss": 1.0})
    assert writer._summary == {}


def test_more_keys_than_one_statement_holds(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    writer = EpochWriter(sqlite_engine, run_id)
    keys = [f"m{i}" for i in range(2 * MAX_ROWS + 7)]
    for step in (1, 2):
        writer.write(step, {k: step * i for i, k in enumerate(keys)})
    history = s.get_metric_history(sqlite_engine, run_id)
    assert len(history) == len(keys) and history["m9"] == [(1, 9.0), (2, 18.0)]
    assert s.get_run(sqlite_engine, run_id).summary["m9"]["best"] == 18.0
