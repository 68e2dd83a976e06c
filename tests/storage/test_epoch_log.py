"""log_epochs: a batch of epochs in one transaction stores exactly what one transaction per epoch
stores, and the Cancel request comes back from the write."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import storage as s

KEYS = st.sampled_from(["train_loss", "val_loss", "val_accuracy", "lr"])
VALUES = st.one_of(st.floats(min_value=-10, max_value=10), st.sampled_from([float("nan"), float("inf"), -math.inf]))
# Steps may repeat and go backwards (a late log of an earlier epoch, a step logged twice).
EPOCHS = st.lists(st.tuples(st.integers(min_value=1, max_value=8), st.dictionaries(KEYS, VALUES, min_size=1)),
                  min_size=1, max_size=10)


def _summaries(engine, run_id: int) -> dict:
    summary = s.get_run(engine, run_id).summary
    return {k: {f: ("nan" if isinstance(v, float) and math.isnan(v) else v) for f, v in row.items()}
            for k, row in summary.items()}


def _history(engine, run_id: int) -> dict:
    return {k: [(st, "nan" if math.isnan(v) else v) for st, v in pts]
            for k, pts in s.get_metric_history(engine, run_id).items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(epochs=EPOCHS, batch=st.integers(min_value=1, max_value=5))
def test_batches_store_what_one_transaction_per_epoch_stores(engine, epochs, batch):
    batched, single = s.create_run(engine, {}, {}), s.create_run(engine, {}, {})
    for first in range(0, len(epochs), batch):
        s.log_epochs(engine, batched, epochs[first:first + batch])
    for step, metrics in epochs:
        s.log_epoch(engine, single, step, metrics)
    assert _summaries(engine, batched) == _summaries(engine, single)
    a, b = s.get_run(engine, batched), s.get_run(engine, single)
    assert (a.epochs_done, a.diverged) == (b.epochs_done, b.diverged)
    assert _history(engine, batched) == _history(engine, single)


def test_a_later_batch_keeps_the_stored_best(engine):
    run_id = s.create_run(engine, {}, {})
    s.log_epochs(engine, run_id, [(1, {"val_loss": 0.5, "val_accuracy": 0.9}),
                                  (2, {"val_loss": 0.7, "val_accuracy": 0.6})])
    s.log_epochs(engine, run_id, [(3, {"val_loss": 0.6, "val_accuracy": 0.8}),
                                  (4, {"val_loss": 0.55, "val_accuracy": float("nan")})])
    summary = s.get_run(engine, run_id).summary
    assert (summary["val_loss"]["best"], summary["val_loss"]["best_step"]) == (0.5, 1)
    assert (summary["val_accuracy"]["best"], summary["val_accuracy"]["best_step"]) == (0.9, 1)
    assert summary["val_loss"]["last"] == 0.55 and summary["val_loss"]["last_step"] == 4
    assert math.isnan(summary["val_accuracy"]["last"]) and summary["val_accuracy"]["nonfinite"] == 1
    s.log_epochs(engine, run_id, [(5, {"val_loss": 0.4})])
    assert s.get_run(engine, run_id).summary["val_loss"]["best_step"] == 5


def test_the_write_returns_the_cancel_request(engine):
    run_id = s.create_run(engine, {}, {})
    s.start_run(engine, run_id, pid=1, host="h")
    assert s.log_epochs(engine, run_id, [(1, {"val_loss": 1.0})]) is False
    s.request_cancel(engine, run_id)
    assert s.log_epochs(engine, run_id, [(2, {"val_loss": 0.9}), (3, {"val_loss": 0.8})]) is True
    assert s.get_run(engine, run_id).epochs_done == 3  # the epochs that noticed Cancel are still recorded


def test_an_unknown_run_raises_and_writes_nothing(sqlite_engine):
    with pytest.raises(s.RunNotFound):
        s.log_epochs(sqlite_engine, 12345, [(1, {"val_loss": 1.0})])


def test_many_keys_in_one_batch(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    keys = [f"m{i}" for i in range(1207)]
    s.log_epochs(sqlite_engine, run_id, [(step, {k: step * i for i, k in enumerate(keys)}) for step in (1, 2)])
    history = s.get_metric_history(sqlite_engine, run_id)
    assert len(history) == len(keys) and history["m9"] == [(1, 9.0), (2, 18.0)]
    assert s.get_run(sqlite_engine, run_id).summary["m9"]["best"] == 18.0
