"""Hyperparameters against a final metric: parallel coordinates and a scatter."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .common import color_for, empty_figure, run_colors


def _numeric(values: Sequence[object]) -> list[float] | None:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def parallel_coordinates_figure(params: Mapping[int, Mapping[str, object]], metric: Mapping[int, float],
                                keys: Sequence[str], metric_name: str) -> go.Figure:
    """One line per run through its hyperparameter values, coloured by the final metric. An axis only for
    a setting every drawn run uses (a run without the key does not use that setting)."""
    runs = [r for r in params if r in metric and metric[r] is not None and math.isfinite(metric[r])]
    keys = [k for k in keys if all(k in params[r] for r in runs)]
    if len(runs) < 2 or not keys:
        return empty_figure("Select at least two finished runs with differing hyperparameters")
    dims = []
    for k in keys:
        vals = [params[r].get(k) for r in runs]
        nums = _numeric(vals)
        if nums is not None:
            dims.append({"label": k, "values": np.array(nums)})
        else:
            cats = sorted({str(v) for v in vals})
            index = {c: i for i, c in enumerate(cats)}
            dims.append({"label": k, "values": np.array([index[str(v)] for v in vals]),
                         "tickvals": list(range(len(cats))), "ticktext": cats})
    scores = np.array([metric[r] for r in runs])
    dims.append({"label": metric_name, "values": scores})
    fig = go.Figure(go.Parcoords(line={"color": scores, "colorscale": "Viridis", "showscale": True},
                                 dimensions=dims))
    fig.update_layout(height=380, margin={"l": 60, "r": 60, "t": 40, "b": 30}, template="plotly_white")
    return fig


def param_scatter_figure(params: Mapping[int, Mapping[str, object]], metric: Mapping[int, float],
                         key: str, metric_name: str, *, labels: Mapping[int, str] | None = None,
                         colors: Mapping[int, str] | None = None) -> go.Figure:
    """Final metric against one hyperparameter, a point per run that uses it, in the run's colour
    (`colors`, else run_colors); log x when the values span decades."""
    runs = [r for r in params if key in params[r] and r in metric and metric[r] is not None
            and math.isfinite(metric[r])]
    if not runs or not key:
        return empty_figure("Pick a hyperparameter and select finished runs that use it")
    colors = colors or run_colors(list(params))
    xs = [params[r].get(key) for r in runs]
    nums = _numeric(xs)
    fig = go.Figure(go.Scatter(x=np.array(nums) if nums is not None else [str(v) for v in xs],
                               y=np.array([metric[r] for r in runs]),
                               mode="markers", marker={"size": 10, "opacity": 0.8,
                                                       "color": [colors.get(r, color_for(0)) for r in runs]},
                               text=[(labels or {}).get(r, f"#{r}") for r in runs],
                               hovertemplate="%{text}<br>" + key + "=%{x}<br>" + metric_name + "=%{y}<extra></extra>"))
    fig.update_layout(height=380, template="plotly_white", margin={"l": 50, "r": 10, "t": 30, "b": 40},
                      xaxis_title=key, yaxis_title=metric_name)
    if nums is not None and min(nums) > 0 and max(nums) / min(nums) >= 100:
        fig.update_xaxes(type="log")
    return fig
