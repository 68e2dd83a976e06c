"""log_epoch -> histories and summaries: every float comes back, NaN and ±inf included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

import storage as s

KEYS = st.sampled_from(["train_loss", "val_loss", "val_accuracy", "lr", "grad_norm", "ключ"])
VALUES = st.floats(allow_nan=True, allow_infinity=True, width=64)
EPOCHS = st.dictionaries(st.integers(min_value=0, max_value=10_000), st.dictionaries(KEYS, VALUES, min_size=1),
                         min_size=1, max_size=12)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(epochs=EPOCHS)
def test_log_epoch_then_history_returns_exactly_what_was_logged(engine, epochs):
    run_id = s.create_run(engine, {}, {})
    for step, metrics in epochs.items():
        s.log_epoch(engine, run_id, step, metrics)
    expected: dict[str, list] = {}
    for step in sorted(epochs):
        for key, value in epochs[step].items():
            expected.setdefault(key, []).append((step, value))
    history = s.get_metric_history(engine, run_id)
    assert set(history) == set(expected)
    for key, points in expected.items():
        got = history[key]
        assert [p[0] for p in got] == [p[0] for p in points]
        assert all(_same(a[1], b[1]) for a, b in zip(got, points, strict=True)), (key, got, points)
    run = s.get_run(engine, run_id)
    assert run.diverged == any(not math.isfinite(v) for m in epochs.values() for v in m.values())
    assert run.epochs_done == max(0, max(epochs))


def test_summary_keeps_last_and_best_and_nan_never_counts_as_best(engine):
    run_id = s.create_run(engine, {}, {})
    log = [(1, {"val_loss": 0.9, "val_accuracy": 0.5}), (2, {"val_loss": 0.4, "val_accuracy": 0.8}),
           (3, {"val_loss": 0.6, "val_accuracy": float("-inf")}), (4, {"val_loss": float("nan"), "val_accuracy": 0.7})]
    for step, metrics in log:
        s.log_epoch(engine, run_id, step, metrics)
    summary = s.get_run(engine, run_id).summary
    assert summary["val_loss"]["best"] == 0.4 and summary["val_loss"]["best_step"] == 2  # min for losses
    assert math.isnan(summary["val_loss"]["last"]) and summary["val_loss"]["last_step"] == 4
    assert summary["val_accuracy"]["best"] == 0.8 and summary["val_accuracy"]["best_step"] == 2  # max otherwise
    assert summary["val_accuracy"]["last"] == 0.7
    assert summary["val_loss"]["nonfinite"] == 1 and summary["val_accuracy"]["nonfinite"] == 1


def test_a_metric_that_was_never_finite_has_no_best(engine):
    run_id = s.create_run(engine, {}, {})
    s.log_epoch(engine, run_id, 1, {"train_loss": float("inf")})
    s.log_epoch(engine, run_id, 2, {"train_loss": float("nan")})
    summary = s.get_run(engine, run_id).summary["train_loss"]
    assert summary["best"] is None and summary["best_step"] is None and math.isnan(summary["last"])


def test_a_late_log_of_an_earlier_step_does_not_move_last(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {})
    s.log_epoch(sqlite_engine, run_id, 5, {"val_loss": 0.5})
    s.log_epoch(sqlite_engine, run_id, 3, {"val_loss": 0.7})
    s.log_epoch(sqlite_engine, run_id, 5, {"val_loss": 0.45})  # logging a step again replaces its value
    run = s.get_run(sqlite_engine, run_id)
    assert run.summary["val_loss"]["last"] == 0.45 and run.summary["val_loss"]["last_step"] == 5
    assert run.epochs_done == 5
    assert s.get_metric_history(sqlite_engine, run_id)["val_loss"] == [(3, 0.7), (5, 0.45)]


def _count_statements(engine):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, stmt, *a: statements.append(stmt))
    return statements


def test_histories_of_many_runs_come_from_one_query(sqlite_engine):
    ids = [s.create_run(sqlite_engine, {}, {}) for _ in range(5)]
    for i, run_id in enumerate(ids[:4]):
        for step in range(1, 4):
            s.log_epoch(sqlite_engine, run_id, step, {"val_loss": i + step / 10, "val_accuracy": 0.1 * step})
    statements = _count_statements(sqlite_engine)
    histories = s.get_metric_histories(sqlite_engine, ids, ["val_loss"])
    assert len([q for q in statements if "metrics" in q]) == 1
    assert set(histories) == set(ids) and histories[ids[4]] == {}
    assert histories[ids[2]] == {"val_loss": [(1, 2.1), (2, 2.2), (3, 2.3)]}


def test_listing_never_reads_the_metrics_table(sqlite_engine):
    run_id = s.create_run(sqlite_engine, {}, {"lr": 0.1}, tags=["t"])
    s.log_epoch(sqlite_engine, run_id, 1, {"val_accuracy": 0.5})
    statements = _count_statements(sqlite_engine)
    s.list_runs(sqlite_engine, sort="metric:val_accuracy:best", params={"lr": 0.1}, tag="t", search="x")
    s.count_runs(sqlite_engine, params={"lr": 0.1})
    s.list_metric_keys(sqlite_engine)
    assert statements and not any("FROM metrics" in q or "JOIN metrics" in q for q in statements)


def _fill_sweep(engine, rng):
    """Runs over optimizer x lr with 3 seeds; returns {(optimizer, lr): {step: [values]}}."""
    expected: dict = {}
    for optimizer in ("sgd", "adam"):
        for lr in (0.1, 0.01):
            for seed in range(3):
                run_id = s.create_run(engine, {}, {"optimizer": optimizer, "lr": lr, "seed": seed}, experiment="sweep")
                for step in range(1, 6):
                    value = float(rng.normal(1.0 / step, 0.1))
                    if (optimizer, lr, seed, step) == ("sgd", 0.1, 1, 5):
                        value = float("nan")
                    s.log_epoch(engine, run_id, step, {"val_loss": value})
                    expected.setdefault((optimizer, lr), {}).setdefault(step, []).append(value)
    other = s.create_run(engine, {}, {"optimizer": "sgd", "lr": 0.1}, experiment="elsewhere")
    s.log_epoch(engine, other, 1, {"val_loss": 100.0})
    return expected


def test_grouped_statistics_match_numpy(engine):
    rng = np.random.default_rng(0)
    expected = _fill_sweep(engine, rng)
    rows = s.grouped_metric_stats(engine, "val_loss", ["optimizer", "lr"], experiment="sweep")
    assert len(rows) == 4 * 5
    for row in rows:
        values = np.array(expected[(row["group"]["optimizer"], row["group"]["lr"])][row["step"]])
        finite = values[np.isfinite(values)]
        assert row["count"] == len(finite) and row["nonfinite"] == len(values) - len(finite)
        assert row["mean"] == pytest.approx(finite.mean(), rel=1e-9)
        assert row["std"] == pytest.approx(finite.std(ddof=1), rel=1e-6, abs=1e-12)
    assert {r["nonfinite"] for r in rows} == {0, 1}
    everything = s.grouped_metric_stats(engine, "val_loss", ["optimizer"])
    sgd_step1 = next(r for r in everything if r["group"] == {"optimizer": "sgd"} and r["step"] == 1)
    assert sgd_step1["count"] == 7  # 6 sweep runs + the run in another experiment


def test_grouped_statistics_group_runs_without_the_param_under_none(sqlite_engine):
    a = s.create_run(sqlite_engine, {}, {"act": "relu"})
    b = s.create_run(sqlite_engine, {}, {})
    for run_id, value in ((a, 1.0), (b, 3.0)):
        s.log_epoch(sqlite_engine, run_id, 1, {"val_accuracy": value})
    rows = s.grouped_metric_stats(sqlite_engine, "val_accuracy", ["act"], run_ids=[a, b])
    assert [(r["group"], r["mean"], r["std"], r["count"]) for r in rows] == [
        ({"act": None}, 3.0, 0.0, 1), ({"act": "relu"}, 1.0, 0.0, 1)]
    assert s.grouped_metric_stats(sqlite_engine, "val_accuracy", [], run_ids=[a, b])[0]["mean"] == 2.0


def test_histories_cut_series_that_start_above_the_previous_ones_end(engine):
    """Series boundaries come from metric_summary; a sparse series starting above the previous series'
    last step (no drop in step to mark it) and non-finite points must still come back exactly."""
    run_id, other = s.create_run(engine, {}, {}), s.create_run(engine, {}, {})
    s.log_epoch(engine, run_id, 1, {"a": 0.1})
    s.log_epoch(engine, run_id, 2, {"a": float("nan")})
    s.log_epoch(engine, run_id, 5, {"b": 0.5})
    s.log_epoch(engine, run_id, 9, {"b": float("-inf"), "c": 9.0})
    s.log_epoch(engine, other, 10, {"a": 1.0})
    histories = s.get_metric_histories(engine, [run_id, other])
    assert histories[run_id]["a"][0] == (1, 0.1) and math.isnan(histories[run_id]["a"][1][1])
    assert histories[run_id]["b"] == [(5, 0.5), (9, -math.inf)] and histories[run_id]["c"] == [(9, 9.0)]
    assert histories[other] == {"a": [(10, 1.0)]}
    assert s.get_metric_histories(engine, [run_id], ["b"]) == {run_id: {"b": [(5, 0.5), (9, -math.inf)]}}


def test_histories_fall_back_to_the_points_when_the_summary_disagrees(sqlite_engine):
    from sqlalchemy import delete

    from storage.db import write_tx
    from storage.models import MetricSummary

    run_id = s.create_run(sqlite_engine, {}, {})
    for step in (1, 2, 3):
        s.log_epoch(sqlite_engine, run_id, step, {"a": step / 10, "b": step * 1.0})
    with write_tx(sqlite_engine) as conn:  # a summary row gone (written by some other tool, say)
        conn.execute(delete(MetricSummary).where(MetricSummary.key == "a"))
    history = s.get_metric_history(sqlite_engine, run_id)
    assert history == {"a": [(1, 0.1), (2, 0.2), (3, 0.3)], "b": [(1, 1.0), (2, 2.0), (3, 3.0)]}
