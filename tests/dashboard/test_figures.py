"""Figure builders are pure: plain data in, a figure out, a note (never an exception) on empty input."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.figures.common import differing_keys, run_colors, run_label, smooth
from dashboard.figures.curves import (compare_curves_figure, grouped_band_figure, training_curves_figure,
                                      wall_times)
from dashboard.figures.hparams import param_scatter_figure, parallel_coordinates_figure


def _note(fig: go.Figure) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


def test_empty_inputs_give_a_figure_with_a_note():
    assert "No epochs" in _note(training_curves_figure({}))
    assert "Select runs" in _note(compare_curves_figure({}, {}, "loss"))
    assert "Nothing to group" in _note(grouped_band_figure([], "val_loss"))
    assert "at least two" in _note(parallel_coordinates_figure({}, {}, [], "val_accuracy"))
    assert "Pick a hyperparameter" in _note(param_scatter_figure({}, {}, "", "val_accuracy"))
    assert "no 'loss' values" in _note(compare_curves_figure({1: {}}, {1: "#1"}, "loss"))


def test_training_curves_show_train_and_val_and_flag_divergence():
    hist = {"train_loss": [(1, 1.0), (2, float("nan"))], "val_loss": [(1, 1.2), (2, float("inf"))],
            "train_accuracy": [(1, 0.5), (2, 0.1)], "val_accuracy": [(1, 0.4), (2, 0.1)]}
    fig = training_curves_figure(hist)
    names = [t.name for t in fig.data]
    assert names == ["train loss", "val loss", "train accuracy", "val accuracy"]
    assert fig.data[0].y[1] is None  # NaN is a gap, not a point
    assert "diverged at epoch 2" in _note(fig)


def test_training_curves_keep_accuracy_on_its_own_scale_when_it_is_constant():
    hist = {"train_loss": [(1, 0.1), (2, 0.0)], "train_accuracy": [(1, 1.0), (2, 1.0)]}
    fig = training_curves_figure(hist)
    assert tuple(fig.layout.yaxis2.range) == (0, 1.02)
    assert fig.layout.yaxis.range is None  # the loss keeps autorange


def test_compare_overlays_one_colour_per_run_and_names_runs_by_what_differs():
    params = {1: {"optimizer": "sgd", "lr": 0.1, "seed": 0}, 2: {"optimizer": "adam", "lr": 0.1, "seed": 0}}
    keys = differing_keys(params)
    assert keys == ["optimizer"]
    labels = {r: run_label(r, p, keys) for r, p in params.items()}
    assert labels[1] == "#1 optimizer=sgd"
    hist = {r: {"train_loss": [(1, 1.0), (2, 0.5)], "val_loss": [(1, 1.1), (2, 0.7)]} for r in params}
    fig = compare_curves_figure(hist, labels, "loss", splits=("train", "val"))
    assert len(fig.data) == 4
    colours = {t.legendgroup: t.line.color for t in fig.data}
    assert len(set(colours.values())) == 2
    assert fig.data[1].line.dash == "dash"


def test_compare_on_wall_time_uses_cumulative_epoch_seconds():
    hist = {"val_loss": [(1, 1.0), (2, 0.5)], "epoch_seconds": [(1, 0.5), (2, 1.5)]}
    assert wall_times(hist) == {1: 0.5, 2: 2.0}
    fig = compare_curves_figure({7: hist}, {7: "#7"}, "loss", splits=("val",), x="time", log_y=True)
    assert list(fig.data[0].x) == [0.5, 2.0]
    assert fig.layout.yaxis.type == "log"


def test_grouped_bands_draw_one_band_and_one_mean_line_per_group():
    stats = [{"group": {"optimizer": o}, "step": s, "mean": 0.5 + s / 10, "std": 0.05, "count": 5}
             for o in ("sgd", "momentum", "adam") for s in (1, 2, 3)]
    fig = grouped_band_figure(stats, "val_accuracy")
    means = [t for t in fig.data if t.mode == "lines"]
    assert sorted(t.name for t in means) == ["optimizer=adam (n=5)", "optimizer=momentum (n=5)",
                                             "optimizer=sgd (n=5)"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 3
    assert max(bands[0].y) > max(means[0].y)


def test_hparam_views_encode_categories_and_skip_unfinished_runs():
    params = {1: {"optimizer": "sgd", "dropout": 0.0}, 2: {"optimizer": "adam", "dropout": 0.5},
              3: {"optimizer": "adam", "dropout": 0.2}}
    final = {1: 0.8, 2: 0.9, 3: float("nan")}
    fig = parallel_coordinates_figure(params, final, ["optimizer", "dropout"], "val_accuracy")
    notes = list(fig.data[-1].text)  # the axis names and tick labels
    assert [t for t in notes if t.startswith("<b>")] == ["<b>optimizer</b>", "<b>dropout</b>", "<b>val_accuracy</b>"]
    assert {"adam", "sgd"} <= set(notes)
    assert len(fig.data[-2].y) == 2  # one point per finished run on the metric axis
    lines = [t for t in fig.data[1:] if t.mode == "lines"]
    assert sum(y is None for t in lines for y in t.y) == 2  # one polyline per finished run
    scatter = param_scatter_figure(params, final, "dropout", "val_accuracy")
    assert list(scatter.data[0].x) == [0.0, 0.5]


def test_settings_a_run_does_not_use_stay_out_of_labels_axes_and_the_scatter():
    params = {1: {"optimizer": "sgd", "lr": 0.1}, 2: {"optimizer": "momentum", "momentum": 0.9, "lr": 0.1},
              3: {"optimizer": "adam", "lr": 0.1}}
    keys = differing_keys(params)
    assert keys == ["optimizer"]  # momentum is 0.9 wherever it is used: it does not differ
    assert run_label(3, params[3], keys) == "#3 optimizer=adam"
    params[4] = {"optimizer": "momentum", "momentum": 0.5, "lr": 0.1}
    keys = differing_keys(params)
    assert keys == ["momentum", "optimizer"]
    assert run_label(1, params[1], keys) == "#1 optimizer=sgd"
    final = {1: 0.8, 2: 0.9, 3: 0.85, 4: 0.7}
    fig = parallel_coordinates_figure(params, final, keys, "val_accuracy")
    assert "<b>momentum</b>" not in fig.data[-1].text
    scatter = param_scatter_figure(params, final, "momentum", "val_accuracy")
    assert sorted(scatter.data[0].x) == [0.5, 0.9]  # only the momentum runs


def test_a_run_keeps_its_colour_in_every_figure_of_the_page():
    params = {5: {"optimizer": "sgd"}, 9: {"optimizer": "adam"}, 7: {"optimizer": "momentum"}}
    colors = run_colors(list(params))
    assert colors == run_colors([9, 7, 5]) and len(set(colors.values())) == 3
    hist = {r: {"val_loss": [(1, 1.0), (2, 0.5)]} for r in params}
    curves = compare_curves_figure(hist, {}, "loss", splits=("val",), colors=colors)
    assert {int(t.legendgroup): t.line.color for t in curves.data} == colors
    scatter = param_scatter_figure(params, {5: 0.1, 9: 0.2, 7: 0.3}, "optimizer", "val_accuracy", colors=colors)
    assert list(scatter.data[0].marker.color) == [colors[5], colors[9], colors[7]]


def test_a_long_comparison_names_the_first_runs_in_its_legend_and_thins_long_curves():
    hist = {r: {"val_loss": [(s, 1.0 / s) for s in range(1, 2001)]} for r in range(1, 31)}
    fig = compare_curves_figure(hist, {}, "loss", splits=("val",), legend_max=20)
    assert sum(bool(t.showlegend) for t in fig.data) == 20
    assert "the first 20 of 30 runs" in _note(fig)
    assert all(len(t.x) <= 500 and t.x[-1] == 2000 for t in fig.data)


def test_runs_past_the_legend_share_a_trace_per_colour_and_split_and_keep_their_colour():
    run_ids = list(range(1, 61))
    colors = run_colors(run_ids)
    hist = {r: {"train_loss": [(1, 1.0 / r), (2, 0.5 / r)], "val_loss": [(1, 1.1 / r), (2, 0.6 / r)]} for r in run_ids}
    fig = compare_curves_figure(hist, {}, "loss", colors=colors, legend_max=20)
    own, shared = fig.data[:40], fig.data[40:]
    assert [int(t.legendgroup) for t in own[::2]] == run_ids[:20]
    assert len(shared) == 2 * len({colors[r] for r in run_ids[20:]})  # one per colour and split
    for t in shared:
        runs = {int(r) for r, y in zip(t.customdata, t.y, strict=True) if not math.isnan(y)}
        assert {colors[r] for r in runs} == {t.line.color}  # every run drawn in its own colour
        assert t.line.dash == ("solid" if t.hovertemplate.split()[1] == "train" else "dash")
        assert "#%{customdata}" in t.hovertemplate  # hover names the run
    drawn = sorted(int(r) for t in shared for r, y in zip(t.customdata, t.y, strict=True) if not math.isnan(y))
    assert drawn == sorted(run_ids[20:] * 4)  # each run: two points in each of its two splits


def test_smoothing_is_debiased_and_keeps_gaps():
    assert smooth([1.0, 1.0, 1.0], 0.9) == [1.0, 1.0, 1.0]
    out = smooth([0.0, float("nan"), 1.0], 0.5)
    assert out[0] == 0.0 and math.isnan(out[1])


finite = st.floats(allow_nan=True, allow_infinity=True, width=32)
points = st.lists(st.tuples(st.integers(1, 500), finite), max_size=20)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["train_loss", "val_loss", "train_accuracy", "val_accuracy",
                                        "epoch_seconds"]), points),
       st.floats(0, 0.95), st.sampled_from(["epoch", "time"]), st.booleans())
def test_figure_builders_never_raise(hist, weight, x, log_y):
    assert isinstance(training_curves_figure(hist), go.Figure)
    assert isinstance(compare_curves_figure({1: hist, 2: hist}, {}, "loss", smoothing=weight, x=x, log_y=log_y),
                      go.Figure)
    rows = [{"group": {"p": i % 2}, "step": s, "mean": v, "std": None, "count": 1}
            for i, (s, v) in enumerate(hist.get("val_loss", []))]
    assert isinstance(grouped_band_figure(rows, "val_loss"), go.Figure)


def test_an_accuracy_band_stays_within_zero_and_one_and_a_loss_band_does_not():
    stats = [{"group": {"model": "lstm"}, "step": s, "mean": m, "std": 0.2, "count": 3}
             for s, m in ((1, 0.9), (2, 0.1))]
    band = next(t for t in grouped_band_figure(stats, "val_accuracy").data if t.fill == "toself")
    assert list(band.y) == pytest.approx([1.0, 0.3, 0.0, 0.7])  # upper forward, lower back
    band = next(t for t in grouped_band_figure(stats, "val_loss").data if t.fill == "toself")
    assert list(band.y) == pytest.approx([1.1, 0.3, -0.1, 0.7])
