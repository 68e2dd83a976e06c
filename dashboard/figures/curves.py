"""Learning curves: one run's loss and accuracy, many runs overlaid, and mean ± std bands."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import color_for, empty_figure, fast_figure, run_colors, smooth

History = Mapping[str, Sequence[tuple[int, float]]]
# Heights of the figures, placeholders included: a graph whose height changes is drawn twice.
RUN_HEIGHT = 340
COMPARE_HEIGHT = 420


def _xy(points: Sequence[tuple[int, float]]):
    xs = [p[0] for p in points]
    ys = [None if p[1] is None or not math.isfinite(p[1]) else p[1] for p in points]
    return xs, ys


def training_curves_figure(history: History, *, title: str = "") -> go.Figure:
    """Loss (left) and accuracy (right) of one run, train and validation."""
    if not history or not any(history.get(k) for k in ("train_loss", "val_loss")):
        return empty_figure("No epochs recorded yet", height=RUN_HEIGHT)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for col, kind in ((1, "loss"), (2, "accuracy")):
        for split, dash in (("train", "solid"), ("val", "dash")):
            pts = history.get(f"{split}_{kind}") or []
            xs, ys = _xy(pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, name=f"{split} {kind}", mode="lines+markers",
                                     line={"dash": dash, "color": color_for(0)},
                                     marker={"size": 5, "symbol": "circle" if split == "train" else "x"}),
                          row=1, col=col)
    nan_epochs = [s for s, v in history.get("train_loss", []) if v is None or not math.isfinite(v)]
    if nan_epochs:
        fig.add_annotation(text=f"diverged at epoch {nan_epochs[0]} (loss is NaN/inf)", x=0.5, y=1.12,
                           xref="paper", yref="paper", showarrow=False, font={"color": "#c0392b"})
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)  # autorange would stretch a constant 1.0 to 0-2
    fig.update_layout(title=title or None, height=RUN_HEIGHT, template="plotly_white",
                      margin={"l": 40, "r": 10, "t": 50, "b": 40}, legend={"orientation": "h", "y": -0.25})
    return fig


def wall_times(history: History) -> dict[int, float]:
    """Cumulative training seconds at the end of each epoch, from the `epoch_seconds` metric."""
    total, out = 0.0, {}
    for step, secs in history.get("epoch_seconds", []):
        total += secs if secs is not None and math.isfinite(secs) else 0.0
        out[step] = total
    return out


def _array(values) -> np.ndarray:
    """float32 array with NaN for missing points: plotly validates arrays far faster than lists, and sends
    them to the browser as binary (half the bytes of float64, precision to spare for a curve)."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float32)


# Beyond these, a comparison stays readable and quick to draw: the first runs get a trace and a legend entry
# each (a legend entry costs the browser far more than a curve); the curves of the others are drawn as one
# trace per colour and split (the browser's cost grows with the number of traces), and long curves are
# thinned to evenly spaced points.
LEGEND_MAX_RUNS = 20
MAX_POINTS = 500


def thin(xs: Sequence, ys: Sequence, max_points: int = MAX_POINTS) -> tuple[list, list]:
    """At most about `max_points` evenly spaced points of a curve, its first and last kept."""
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    keep = sorted(set(np.linspace(0, n - 1, max_points).round().astype(int).tolist()))
    return [xs[i] for i in keep], [ys[i] for i in keep]


def compare_curves_figure(histories: Mapping[int, History], labels: Mapping[int, str], metric: str, *,
                          splits: Sequence[str] = ("train", "val"), smoothing: float = 0.0,
                          x: str = "epoch", log_y: bool = False, colors: Mapping[int, str] | None = None,
                          legend_max: int = LEGEND_MAX_RUNS,
                          forks: Mapping[int, tuple[int, int]] | None = None) -> go.Figure:
    """Overlay `metric` (e.g. 'loss' or 'accuracy') of several runs: one colour per run (`colors`, else
    run_colors), a dash per split. The first `legend_max` runs get a trace per split and a legend entry;
    the curves of the others share one trace per colour and split (hover names the run).
    `forks`: {run id: (parent id, fork epoch)}: a diamond marks where each fork left its parent."""
    if not histories:
        return empty_figure("Select runs to compare", height=COMPARE_HEIGHT)
    colors = colors or run_colors(list(histories))
    dashes = {"train": "solid", "val": "dash", "test": "dot"}
    width = 1.5 if len(histories) > legend_max else 2
    traces, named, shared = [], set(), {}
    for i, (run_id, hist) in enumerate(histories.items()):
        times = wall_times(hist) if x == "time" else None
        color = colors.get(run_id, color_for(i))
        for split in splits:
            key = f"{split}_{metric}" if split else metric
            pts = hist.get(key) or []
            if not pts:
                continue
            xs, ys = _xy(pts)
            if times is not None:
                xs = [times.get(s) for s in xs]
            xs, ys = thin(xs, smooth(ys, smoothing))
            line = {"color": color, "dash": dashes.get(split, "solid"), "width": width}
            if i < legend_max:
                traces.append({"type": "scatter", "x": _array(xs), "y": _array(ys), "mode": "lines",
                               "name": f"{labels.get(run_id, run_id)}", "legendgroup": str(run_id),
                               "showlegend": run_id not in named, "line": line,
                               "hovertemplate": f"{split} %{{y:.4g}}<extra>%{{fullData.name}}</extra>"})
                named.add(run_id)
            else:
                trace = shared.setdefault((color, split), {
                    "type": "scatter", "x": [], "y": [], "customdata": [], "mode": "lines", "showlegend": False,
                    "line": line, "hovertemplate": f"#%{{customdata}} {split} %{{y:.4g}}<extra></extra>"})
                gap = [None] if trace["x"] else []  # a gap between two runs' curves
                trace["x"] += gap + xs
                trace["y"] += gap + ys
                trace["customdata"] += [0] * len(gap) + [run_id] * len(xs)
            if forks and run_id in forks:
                traces.append(_fork_marker(pts, times, forks[run_id], run_id, labels.get(run_id, run_id), color))
    for trace in shared.values():
        traces.append({**trace, "x": _array(trace["x"]), "y": _array(trace["y"]),
                       "customdata": np.array(trace["customdata"], dtype=np.int32)})
    if not traces:
        return empty_figure(f"The selected runs have no '{metric}' values", height=COMPARE_HEIGHT)
    # Traces built here are well-formed; plotly's per-value validation is what a 400-trace figure waited for.
    layout = {"height": COMPARE_HEIGHT, "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
              "xaxis": {"title": {"text": "wall time (s)" if x == "time" else "epoch"}},
              "yaxis": {"title": {"text": metric}, **({"type": "log"} if log_y else {})},
              "legend": {"font": {"size": 11}, "title": {"text": _legend_title(splits)}}, "annotations": []}
    if len(histories) > legend_max:
        layout["annotations"].append({
            "text": f"legend: the first {legend_max} of {len(histories)} runs; hover a curve for its run",
            "x": 1, "y": 1.06, "xref": "paper", "yref": "paper", "xanchor": "right", "showarrow": False,
            "font": {"size": 11, "color": "#666"}})
    return fast_figure(traces, layout)


def _fork_marker(points, times, fork: tuple[int, int], run_id: int, label, color: str) -> dict:
    """A diamond on a fork's curve at its fork epoch: steps up to it are its parent's."""
    parent, epoch = fork
    y = next((v for s, v in points if s == epoch), None)
    x = times.get(epoch) if times is not None else epoch
    return {"type": "scatter", "x": [x], "y": [y], "mode": "markers", "showlegend": False,
            "legendgroup": str(run_id), "marker": {"symbol": "diamond", "size": 11, "color": color,
                                                  "line": {"width": 1, "color": "#333"}},
            "hovertext": [f"{label}: forked from #{parent} at epoch {epoch}"], "hoverinfo": "text"}


def _legend_title(splits: Sequence[str]) -> str:
    names = {"train": "train ──", "val": "validation - -", "test": "test ···"}
    return " · ".join(names.get(s, s) for s in splits)


def _group_name(group: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items()) or "all runs"


def grouped_band_figure(stats: Sequence[Mapping], metric_key: str, *, log_y: bool = False) -> go.Figure:
    """Mean ± std of `metric_key` per epoch, one band per group (rows from grouped_metric_stats)."""
    if not stats:
        return empty_figure("Nothing to group: select runs and a hyperparameter", height=COMPARE_HEIGHT)
    groups: dict[str, list] = {}
    for row in stats:
        groups.setdefault(_group_name(row["group"]), []).append(row)
    lo, hi = (0.0, 1.0) if metric_key.endswith("accuracy") else (-math.inf, math.inf)  # a band stays possible
    fig = go.Figure()
    for i, (name, rows) in enumerate(sorted(groups.items())):
        rows = sorted(rows, key=lambda r: r["step"])
        xs = [r["step"] for r in rows]
        mean = [r["mean"] for r in rows]
        std = [r["std"] or 0.0 for r in rows]
        n = max((r["count"] for r in rows), default=0)
        color = color_for(i)
        upper = [min(m + s, hi) if m is not None else None for m, s in zip(mean, std)]
        lower = [max(m - s, lo) if m is not None else None for m, s in zip(mean, std)]
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=upper + lower[::-1], fill="toself", fillcolor=color,
                                 opacity=0.2, line={"width": 0}, hoverinfo="skip", showlegend=False,
                                 legendgroup=name))
        fig.add_trace(go.Scatter(x=xs, y=mean, mode="lines", name=f"{name} (n={n})", legendgroup=name,
                                 line={"color": color, "width": 2}))
    fig.update_layout(height=COMPARE_HEIGHT, template="plotly_white", margin={"l": 50, "r": 10, "t": 30, "b": 40},
                      xaxis_title="epoch", yaxis_title=f"{metric_key} (mean ± std)")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


