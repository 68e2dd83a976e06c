"""--metric parsing and evaluation from stored histories."""

from __future__ import annotations

import math

import pytest

from lessons.metrics import MetricError, evaluate, not_reached, parse_metric

H = {"val_accuracy": [(1, 0.5), (2, 0.8), (3, 0.95), (4, 0.9)],
     "train_accuracy": [(1, 0.6), (2, 0.9), (3, 0.99), (4, 1.0)],
     "val_loss": [(1, 1.0), (2, 0.5), (3, 0.4), (4, 0.45)],
     "train_loss": [(1, 0.9), (2, 0.4), (3, 0.2), (4, 0.1)]}


@pytest.mark.parametrize("text, value", [
    ("val_accuracy:best", 0.95), ("val_accuracy:last", 0.9), ("val_loss:best", 0.4), ("val_loss:last", 0.45),
    ("epochs_to:val_accuracy>=0.9", 3.0), ("epochs_to:val_loss<=0.5", 2.0), ("epochs_to:val_accuracy>=0.99", 11.0),
    ("reached:val_accuracy>=0.9", 1.0), ("reached:val_accuracy>=0.99", 0.0),
    ("gap:accuracy", 0.1), ("gap:loss", 0.1 - 0.45)])
def test_each_metric_form_evaluates_on_a_history(text, value):
    assert evaluate(parse_metric(text), H, epochs_planned=10) == pytest.approx(value)


def test_the_sense_of_each_metric():
    assert parse_metric("val_accuracy:best").higher_is_better
    assert not parse_metric("val_loss:last").higher_is_better
    assert not parse_metric("epochs_to:val_accuracy>=0.9").higher_is_better
    assert not parse_metric("gap:accuracy").higher_is_better
    assert parse_metric("reached:val_accuracy>=1").share


def test_non_finite_values_are_skipped_for_best_and_undefined_for_last():
    h = {"val_loss": [(1, 0.7), (2, math.nan)]}
    assert evaluate(parse_metric("val_loss:best"), h, 2) == 0.7
    assert evaluate(parse_metric("val_loss:last"), h, 2) is None
    assert evaluate(parse_metric("test_accuracy:best"), h, 2) is None


def test_runs_that_never_reach_the_target_are_counted():
    m = parse_metric("epochs_to:val_accuracy>=0.99")
    values = {0: 11.0, 1: 3.0, 2: 11.0}
    assert not_reached(m, values, {0: 10, 1: 10, 2: 10}) == 2


def test_grad_ratio_is_log10_of_first_over_last():
    assert evaluate(parse_metric("grad_ratio"), {}, 1, [0.001, 0.1, 1.0]) == pytest.approx(-3.0)
    assert evaluate(parse_metric("grad_ratio"), {}, 1, None) is None


@pytest.mark.parametrize("bad", ["", "val_accuracy", "val_accuracy:max", "epochs_to:val_accuracy>0.9",
                                 "epochs_to:val_accuracy>=x", "gap:f1"])
def test_bad_metric_texts_are_refused_naming_the_forms(bad):
    with pytest.raises(MetricError, match="metric: .*expected"):
        parse_metric(bad)
