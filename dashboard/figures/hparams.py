"""Hyperparameters against a final metric: parallel coordinates and a scatter."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from .common import color_for, empty_figure, fast_figure, run_colors


HEIGHT = 380  # placeholders included: a graph whose height changes is drawn twice


def _numeric(values: Sequence[object]) -> list[float] | None:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _axis(values: Sequence[object]) -> tuple[list[float], list[tuple[float, str]]]:
    """Positions in [0, 1] for one axis's values, and its ticks (position, label). Numbers are spaced by
    value (by log10 when positive and spanning two decades or more), anything else as sorted categories."""
    nums = _numeric(values)
    if nums is None:
        cats = sorted({str(v) for v in values})
        at = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
        return [at[str(v)] for v in values], [(at[c], c) for c in cats]
    logged = min(nums) > 0 and max(nums) / min(nums) >= 100
    scaled = [math.log10(v) for v in nums] if logged else nums
    lo, hi = min(scaled), max(scaled)
    pos = [(v - lo) / (hi - lo) if hi > lo else 0.5 for v in scaled]
    distinct = sorted(set(nums))
    ticks = distinct if len(distinct) <= 6 else [10 ** t if logged else t for t in np.linspace(lo, hi, 5)]
    return pos, [(((math.log10(t) if logged else t) - lo) / (hi - lo) if hi > lo else 0.5, f"{t:.3g}")
                 for t in ticks]


def parallel_coordinates_figure(params: Mapping[int, Mapping[str, object]], metric: Mapping[int, float],
                                keys: Sequence[str], metric_name: str, *, bins: int = 8) -> go.Figure:
    """One line per run through its hyperparameter values, coloured by the final metric. An axis only for
    a setting every drawn run uses (a run without the key does not use that setting).

    Drawn as plain lines (a few traces: runs binned by metric colour) rather than plotly's WebGL
    parcoords, which costs a browser without a GPU about a second whatever the number of runs."""
    runs = [r for r in params if r in metric and metric[r] is not None and math.isfinite(metric[r])]
    keys = [k for k in keys if all(k in params[r] for r in runs)]
    if len(runs) < 2 or not keys:
        return empty_figure("Select at least two finished runs with differing hyperparameters", height=HEIGHT)
    names = list(keys) + [metric_name]
    columns = [[params[r].get(k) for r in runs] for k in keys] + [[metric[r] for r in runs]]
    axes = [_axis(col) for col in columns]
    scores = np.array([metric[r] for r in runs])
    lo, hi = float(scores.min()), float(scores.max())
    level = np.zeros(len(runs), dtype=int) if hi == lo else \
        np.minimum(((scores - lo) / (hi - lo) * bins).astype(int), bins - 1)
    xs = list(range(len(names)))
    traces = []
    for b in range(bins):
        members = np.flatnonzero(level == b)
        if not len(members):
            continue
        x, y = [], []
        for m in members:
            x += xs + [None]
            y += [axes[a][0][m] for a in xs] + [None]
        color = sample_colorscale("Viridis", (b + 0.5) / bins)[0]
        traces.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "line": {"color": color, "width": 1.2},
                       "opacity": 0.7, "hoverinfo": "skip", "showlegend": False})
    hover = ["<br>".join(f"{k}={params[r].get(k)}" for k in keys) + f"<br>{metric_name}={metric[r]:.4g}"
             for r in runs]
    points = {"type": "scatter", "x": [xs[-1]] * len(runs), "y": axes[-1][0], "mode": "markers", "text": hover,
              "showlegend": False, "hovertemplate": "%{text}<extra></extra>",
              "marker": {"size": 6, "color": scores.tolist(), "colorscale": "Viridis", "showscale": True,
                         "colorbar": {"title": {"text": metric_name}, "thickness": 12}}}
    traces.append(points)
    # Axes, their names and tick labels as two traces (plotly measures every annotation's text: slow).
    ax, ay, tx, ty, tt, where = [], [], [], [], [], []
    for i, (name, (_pos, ticks)) in enumerate(zip(names, axes, strict=True)):
        ax += [i, i, None]
        ay += [0, 1, None]
        tx += [i] + [i - 0.03] * len(ticks)
        ty += [1.07] + [at for at, _label in ticks]
        tt += [f"<b>{name}</b>"] + [label for _at, label in ticks]
        where += ["middle center"] + ["middle left"] * len(ticks)
    traces.insert(0, {"type": "scatter", "x": ax, "y": ay, "mode": "lines", "line": {"color": "#444", "width": 1},
                      "hoverinfo": "skip", "showlegend": False})
    traces.append({"type": "scatter", "x": tx, "y": ty, "text": tt, "mode": "text", "textposition": where,
                   "hoverinfo": "skip", "showlegend": False, "textfont": {"size": 10, "color": "#333"}})
    return fast_figure(traces, {"height": HEIGHT, "margin": {"l": 20, "r": 20, "t": 30, "b": 20}, "hovermode": "closest",
                                "xaxis": {"visible": False, "range": [-0.5, len(names) - 0.7]},
                                "yaxis": {"visible": False, "range": [-0.05, 1.1]}})


def param_scatter_figure(params: Mapping[int, Mapping[str, object]], metric: Mapping[int, float],
                         key: str, metric_name: str, *, labels: Mapping[int, str] | None = None,
                         colors: Mapping[int, str] | None = None) -> go.Figure:
    """Final metric against one hyperparameter, a point per run that uses it, in the run's colour
    (`colors`, else run_colors); log x when the values span decades."""
    runs = [r for r in params if key in params[r] and r in metric and metric[r] is not None
            and math.isfinite(metric[r])]
    if not runs or not key:
        return empty_figure("Pick a hyperparameter and select finished runs that use it", height=HEIGHT)
    colors = colors or run_colors(list(params))
    xs = [params[r].get(key) for r in runs]
    nums = _numeric(xs)
    logged = nums is not None and min(nums) > 0 and max(nums) / min(nums) >= 100
    trace = {"type": "scatter", "x": np.array(nums) if nums is not None else [str(v) for v in xs],
             "y": np.array([metric[r] for r in runs]), "mode": "markers",
             "marker": {"size": 10, "opacity": 0.8, "color": [colors.get(r, color_for(0)) for r in runs]},
             "text": [(labels or {}).get(r, f"#{r}") for r in runs],
             "hovertemplate": "%{text}<br>" + key + "=%{x}<br>" + metric_name + "=%{y}<extra></extra>"}
    return fast_figure([trace], {"height": HEIGHT, "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
                                 "xaxis": {"title": {"text": key}, **({"type": "log"} if logged else {})},
                                 "yaxis": {"title": {"text": metric_name}}})
