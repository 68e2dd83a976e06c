"""Inside-view figure builders: pure, shared colour scales across panels, a note on empty input."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.figures import inside as figs


def _note(fig: go.Figure) -> str:
    return " ".join(a.text or "" for a in fig.layout.annotations)


EMPTY_CASES = [
    (lambda: figs.gradient_flow_figure({}), "No parameter statistics"),
    (lambda: figs.activation_depth_figure({"a": []}), "No activation layers"),
    (lambda: figs.histograms_figure({}), "No histograms"),
    (lambda: figs.boundary_figure({}, {}), "No decision boundary"),
    (lambda: figs.confusion_figure({"a": None}), "No confusion matrix"),
    (lambda: figs.filters_figure({}), "No convolution filters"),
    (lambda: figs.feature_maps_figure({}), "No feature maps"),
    (lambda: figs.recurrent_figure({}), "No recurrent layer"),
    (lambda: figs.confidence_figure({}, []), "No per-token confidence"),
    (lambda: figs.gates_figure({}, []), "No gates"),
    (lambda: figs.attention_figure({}, [], []), "No attention weights"),
    (lambda: figs.head_stats_figure({}), "No attention statistics"),
    (lambda: figs.image_panels_figure([], [], empty_note="Nothing wrong"), "Nothing wrong"),
]


@pytest.mark.parametrize("build,note", EMPTY_CASES)
def test_empty_input_gives_a_figure_with_a_note(build, note):
    fig = build()
    assert isinstance(fig, go.Figure) and note in _note(fig)


def _rows(grads):
    return [{"name": f"layers.{i}.W", "shape": [4, 4], "grad_norm": g, "update_ratio": g / 10}
            for i, g in enumerate(grads)] + [{"name": "layers.0.b", "shape": [4], "grad_norm": 9.0}]


def test_gradient_flow_draws_one_line_per_run_over_weight_matrices_only():
    fig = figs.gradient_flow_figure({"plain": _rows([1e-6, 1e-3, 1.0]), "residual": _rows([0.5, 0.7, 1.0])})
    grad_traces = [t for t in fig.data if t.xaxis == "x"]
    assert [t.name for t in grad_traces] == ["plain", "residual"]
    assert list(grad_traces[0].y) == [1e-6, 1e-3, 1.0]  # biases are left out
    assert fig.layout.yaxis.type == "log"


def test_gradient_flow_turns_zero_and_missing_values_into_gaps_on_a_log_axis():
    rows = _rows([0.0, 1.0])
    rows[1]["grad_norm"] = None
    fig = figs.gradient_flow_figure({"a": rows})
    assert list(fig.data[0].y) == [None, None]


def test_boundary_panels_share_one_colour_scale_from_0_to_1():
    extent = {"x0": -1, "x1": 1, "y0": -1, "y1": 1}
    rng = np.random.default_rng(0)
    fig = figs.boundary_figure({"sgd": rng.random((5, 5)) * 0.2, "adam": rng.random((5, 5))}, extent,
                               points=rng.normal(size=(6, 2)), labels=np.array([0, 1, 0, 1, 0, 1]))
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 2 and {t.coloraxis for t in heat} == {"coloraxis"}
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    assert [a.text for a in fig.layout.annotations][:2] == ["sgd", "adam"]


def test_attention_panels_share_a_scale_up_to_the_largest_weight_and_label_tokens():
    one = np.full((1, 3, 3), 1 / 3)
    eight = np.zeros((8, 3, 3))
    eight[:, :, 0] = 0.9
    eight[:, :, 1] = 0.1
    words = ["the", "movie", "the"]
    fig = figs.attention_figure({"1 head": one, "8 heads": eight}, words, words)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(heat) == 9
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == pytest.approx(0.9)
    assert list(fig.layout.xaxis.ticktext) == words and list(fig.layout.xaxis.tickvals) == [0, 1, 2]
    assert "8 heads · head 8" in _note(fig)


def test_filters_use_one_symmetric_range_across_runs():
    a = np.zeros((2, 1, 3, 3))
    a[0, 0, 0, 0] = 2.0
    b = np.zeros((2, 1, 3, 3))
    b[1, 0, 1, 1] = -0.5
    fig = figs.filters_figure({"run a": a, "run b": b})
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (-2.0, 2.0)
    assert len(fig.data) == 4


def test_confusion_is_row_normalised_with_counts_in_hover_text():
    fig = figs.confusion_figure({"r": np.array([[3, 1], [0, 4]])}, ["cat", "dog"])
    heat = fig.data[0]
    np.testing.assert_allclose(np.array(heat.z), [[0.75, 0.25], [0, 1]])
    assert list(heat.x) == ["cat", "dog"]


def test_confidence_axis_is_labelled_with_the_probe_words():
    fig = figs.confidence_figure({"lstm": [0.5, 0.6, 0.9], "rnn": [0.5, 0.5, 0.55]}, ["not", "good", "at"])
    assert [t.name for t in fig.data] == ["lstm", "rnn"]
    assert list(fig.layout.xaxis.ticktext) == ["not", "good", "at"]


def test_token_labels_name_unknown_ids():
    assert figs.token_labels([0, 2, 9], ["<pad>", "a", "b"]) == ["<pad>", "b", "#9"]


def test_builders_do_not_modify_their_input():
    rows = _rows([1.0, 2.0])
    snapshot = [dict(r) for r in rows]
    grid = np.ones((4, 4)) * 0.5
    figs.gradient_flow_figure({"a": rows})
    figs.boundary_figure({"a": grid}, {"x0": 0, "x1": 1, "y0": 0, "y1": 1})
    assert rows == snapshot and np.all(grid == 0.5)


@settings(max_examples=10, deadline=None)
@given(heads=st.integers(1, 8), t=st.integers(1, 6), runs=st.integers(1, 4))
def test_attention_figure_never_raises_for_any_head_count(heads, t, runs):
    rng = np.random.default_rng(heads * 100 + t)
    maps = {f"run {r}": rng.dirichlet(np.ones(t), size=(heads, t)) for r in range(runs)}
    fig = figs.attention_figure(maps, [f"w{i}" for i in range(t)], [f"w{i}" for i in range(t)])
    assert len([d for d in fig.data if isinstance(d, go.Heatmap)]) == heads * runs


@settings(max_examples=10, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=6))
def test_line_builders_never_raise_on_odd_numbers(values):
    rows = [{"name": f"l{i}.W", "shape": [2, 2], "grad_norm": v, "update_ratio": v} for i, v in enumerate(values)]
    figs.gradient_flow_figure({"a": rows})
    layers = [{"layer": f"l{i}", "kind": "ReLU", "std": v, "dead_fraction": v, "grad_norm": v}
              for i, v in enumerate(values)]
    figs.activation_depth_figure({"a": layers})
    figs.recurrent_figure({"a": {"hidden_norm": values, "gates": {"f": values}, "input_grad": values}})
    figs.confidence_figure({"a": values}, ["w"] * len(values))


def test_filter_panels_number_their_pixel_grid():
    fig = figs.filters_figure({"run": np.zeros((2, 1, 3, 3))})
    assert fig.layout.xaxis.showticklabels and fig.layout.xaxis.dtick == 1
    assert fig.layout.yaxis.showticklabels and not fig.layout.yaxis2.showticklabels


def test_filter_rows_are_named_by_run_on_their_own_line():
    from dashboard.figures.inside import filters_figure

    w = np.random.default_rng(0).standard_normal((4, 1, 3, 3))
    fig = filters_figure({"#1 optimizer=sgd": w, "#2 optimizer=adam": w * 2})
    texts = [a.text for a in fig.layout.annotations]
    assert "<b>#1 optimizer=sgd</b>" in texts and "<b>#2 optimizer=adam</b>" in texts
    assert texts.count("filter 0") == 2  # panel captions stay short
    label_y = {a.text: a.y for a in fig.layout.annotations if a.text.startswith("<b>")}
    assert label_y["<b>#1 optimizer=sgd</b>"] > label_y["<b>#2 optimizer=adam</b>"]  # one label per row, in order


def test_the_perceptrons_gradient_panels_say_why_they_are_empty():
    """The perceptron has no loss gradient, and once it stops making errors its weights stop changing."""
    converged = [{"name": "W", "shape": [2, 1], "grad_norm": None, "update_ratio": 0.0, "weight_norm": 0.2}]
    note = " ".join(a.text for a in figs.gradient_flow_figure({"#1": converged}).layout.annotations)
    assert "no loss gradient" in note and "weights unchanged" in note and "no earlier" not in note
    learning = [{**converged[0], "update_ratio": 0.05}]
    note = " ".join(a.text for a in figs.gradient_flow_figure({"#1": learning}).layout.annotations)
    assert "weights unchanged" not in note and "no earlier" not in note


def test_gate_lines_are_named_at_their_right_end():
    views = {"#1": {"hidden_norm": [1.0, 2.0, 3.0], "gates": {"i": [0.1, 0.2, 0.3], "f": [0.9, 0.8, 0.7]},
                    "input_grad": [1e-3, 1e-2, 1e-1]}}
    fig = figs.recurrent_figure(views)
    gate_traces = [t for t in fig.data if t.xaxis == "x2"]
    assert [list(t.text) for t in gate_traces] == [["", "", "i"], ["", "", "f"]]
