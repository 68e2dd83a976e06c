"""Inside-the-network views: pure builders from snapshot values (plain lists, dicts and arrays).

Every builder takes a mapping label -> data, so the run page (one run) and the compare page (2 to 4
runs side by side, same epoch, same probe input) share them. Panels of one figure share their colour
scale, computed over all panels, so side-by-side maps compare honestly. Empty input gives a figure
with a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import color_for, empty_figure

ACTIVATION_KINDS = ("ReLU", "LeakyReLU", "Sigmoid", "Tanh")
MAX_PANEL_COLUMNS = 8
HEAT = "Viridis"
DIVERGING = "RdBu"


def _layout(fig: go.Figure, height: int, title: str = "") -> go.Figure:
    fig.update_layout(height=height, template="plotly_white", title=title or None,
                      margin={"l": 50, "r": 20, "t": 60 if title else 40, "b": 40},
                      legend={"orientation": "h", "y": -0.18, "font": {"size": 11}})
    return fig


def grid_figure(n_rows: int, n_cols: int, cells: Sequence[dict], *, hspace: float = 0.02, vspace: float = 0.08,
                layout: dict | None = None, square: bool = False) -> go.Figure:
    """A figure of n_rows x n_cols panels built in one go (much faster than make_subplots + updates);
    `square` keeps pixels square (images).

    Each cell: {"row", "col" (0-based), "traces": [trace dicts], "title", "xaxis": {...}, "yaxis": {...}}.
    """
    width = (1 - hspace * (n_cols - 1)) / n_cols
    height = (1 - vspace * (n_rows - 1)) / n_rows
    data, lay, notes = [], dict(layout or {}), []
    for k, cell in enumerate(cells, start=1):
        x0 = cell["col"] * (width + hspace)
        y1 = 1 - cell["row"] * (height + vspace)
        suffix = "" if k == 1 else str(k)
        xd = [max(0.0, x0), min(1.0, x0 + width)]
        yd = [max(0.0, y1 - height), min(1.0, y1)]
        lay[f"xaxis{suffix}"] = {"domain": xd, "anchor": f"y{suffix}", **cell.get("xaxis", {})}
        lay[f"yaxis{suffix}"] = {"domain": yd, "anchor": f"x{suffix}", **cell.get("yaxis", {})}
        if square:
            lay[f"yaxis{suffix}"]["scaleanchor"] = f"x{suffix}"
        for trace in cell["traces"]:
            data.append({**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"})
        if cell.get("title"):
            notes.append({"text": cell["title"], "x": x0 + width / 2, "y": y1, "xref": "paper", "yref": "paper",
                          "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 11}})
    lay["annotations"] = list(lay.get("annotations", [])) + notes
    return go.Figure(data=data, layout=lay)


def _integer_ticks(n: int) -> dict:
    """Whole-number ticks (no 1.5th layer) when there are few positions; automatic ones otherwise."""
    return {"dtick": 1} if n <= 24 else {"tickformat": "d"}


def _finite(values) -> list[float | None]:
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def _positive(values) -> list[float | None]:
    """For log axes: zero or negative values become gaps."""
    return [v if v is not None and v > 0 else None for v in _finite(values)]


def token_labels(tokens: Sequence[int], names: Sequence[str]) -> list[str]:
    """Token ids as words ('#7' for an id without a name)."""
    return [names[t] if 0 <= t < len(names) else f"#{t}" for t in (int(t) for t in tokens)]


def _token_axis(labels: Sequence[str]) -> dict:
    """Numeric positions with token text: repeated words stay separate ticks."""
    return {"tickmode": "array", "tickvals": list(range(len(labels))), "ticktext": list(labels),
            "tickfont": {"size": 10}}


# --- every model ----------------------------------------------------------------------------------

def weight_rows(rows: Sequence[Mapping]) -> list[Mapping]:
    """The weight matrices and filters (2+ dimensions) among parameter rows, in depth order."""
    return [r for r in rows if len(r.get("shape", [])) >= 2]


def gradient_flow_figure(params_by_run: Mapping[str, Sequence[Mapping]], *, title: str = "",
                         colors: Mapping[str, str] | None = None) -> go.Figure:
    """Gradient norm and update/weight ratio of every weight matrix by depth, one line per run (log y)."""
    runs = {k: weight_rows(v) for k, v in params_by_run.items() if v}
    runs = {k: v for k, v in runs.items() if v}
    if not runs:
        return empty_figure("No parameter statistics recorded")
    fig = make_subplots(rows=1, cols=2, subplot_titles=("gradient norm by depth", "update / weight ratio"),
                        horizontal_spacing=0.1)
    for i, (label, rows) in enumerate(runs.items()):
        color = (colors or {}).get(label, color_for(i))
        xs = list(range(1, len(rows) + 1))
        names = [r["name"] for r in rows]
        for col, key in ((1, "grad_norm"), (2, "update_ratio")):
            fig.add_trace(go.Scatter(x=xs, y=_positive(r.get(key) for r in rows), text=names, name=label,
                                     legendgroup=label, showlegend=col == 1, mode="lines+markers",
                                     line={"color": color},
                                     hovertemplate="%{text}<br>%{y:.3g}<extra>" + label + "</extra>"),
                          row=1, col=col)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="weight layer (input → output)", **_integer_ticks(max(len(v) for v in runs.values())))
    every = [r for layer_rows in runs.values() for r in layer_rows]
    ratios = [r.get("update_ratio") for r in every if r.get("update_ratio") is not None]
    if not ratios:
        _panel_note(fig, 0.79, "no earlier recorded epoch to measure updates against")
    elif not any(ratios):
        _panel_note(fig, 0.79, "weights unchanged since the previous recorded epoch<br>"
                               "(no update: nothing to plot on a log axis)")
    if all(r.get("grad_norm") is None for r in every):
        _panel_note(fig, 0.21, "no loss gradient recorded (the perceptron<br>updates on its errors, not by a gradient)")
    return _layout(fig, 360, title)


def _panel_note(fig: go.Figure, x: float, text: str) -> None:
    fig.add_annotation(text=text, x=x, y=0.5, xref="paper", yref="paper", showarrow=False, font={"color": "#666"})


def activation_depth_figure(layers_by_run: Mapping[str, Sequence[Mapping]], *, title: str = "",
                            colors: Mapping[str, str] | None = None) -> go.Figure:
    """Activation std, dead-ReLU fraction and the gradient reaching each activation layer, by depth."""
    runs = {k: [r for r in v if r.get("kind") in ACTIVATION_KINDS] for k, v in layers_by_run.items() if v}
    runs = {k: v for k, v in runs.items() if v}
    if not runs:
        return empty_figure("No activation layers recorded")
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=("activation std", "dead ReLU fraction", "gradient norm at the layer"))
    for i, (label, rows) in enumerate(runs.items()):
        color = (colors or {}).get(label, color_for(i))
        xs = list(range(1, len(rows) + 1))
        names = [f"{r['layer']} ({r['kind']})" for r in rows]
        series = ((1, _finite(r.get("std") for r in rows)), (2, _finite(r.get("dead_fraction") for r in rows)),
                  (3, _positive(r.get("grad_norm") for r in rows)))
        for col, ys in series:
            fig.add_trace(go.Scatter(x=xs, y=ys, text=names, name=label, legendgroup=label, showlegend=col == 1,
                                     mode="lines+markers", line={"color": color},
                                     hovertemplate="%{text}<br>%{y:.3g}<extra>" + label + "</extra>"),
                          row=1, col=col)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_xaxes(title_text="activation layer (depth)", **_integer_ticks(max(len(v) for v in runs.values())))
    return _layout(fig, 340, title)


def histograms_figure(hist: Mapping, *, max_params: int = 8, title: str = "") -> go.Figure:
    """Weight (left) and gradient (right) histograms of the weight matrices, one line per parameter."""
    rows = [r for r in (hist or {}).get("params", []) if r.get("weights")]
    if not rows:
        return empty_figure("No histograms recorded")
    rows = rows[:max_params]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("weights", "gradients"))
    for i, r in enumerate(rows):
        for col, key in ((1, "weights"), (2, "grads")):
            h = r.get(key)
            if not h:
                continue
            frac = h["frac"]
            width = (h["hi"] - h["lo"]) / max(len(frac), 1)
            xs = [h["lo"] + (k + 0.5) * width for k in range(len(frac))]
            fig.add_trace(go.Scatter(x=xs, y=frac, name=r["name"], legendgroup=r["name"], showlegend=col == 1,
                                     mode="lines", line={"color": color_for(i), "shape": "hvh"}),
                          row=1, col=col)
    fig.update_yaxes(title_text="fraction", row=1, col=1)
    return _layout(fig, 320, title)


# --- classifiers ----------------------------------------------------------------------------------

def boundary_figure(grids: Mapping[str, np.ndarray], extent: Mapping, *, points=None, labels=None,
                    title: str = "") -> go.Figure:
    """P(class 1) over the input plane, one panel per run (colour scale fixed to [0, 1]), with the
    probe points on top (marker = true class)."""
    grids = {k: np.asarray(v, dtype=float) for k, v in grids.items() if v is not None and np.size(v)}
    if not grids or not extent:
        return empty_figure("No decision boundary recorded (2-D data sets only)")
    n = len(grids)
    fig = make_subplots(rows=1, cols=n, subplot_titles=list(grids), horizontal_spacing=0.05)
    for c, grid in enumerate(grids.values(), start=1):
        res = grid.shape[0]
        xs = np.linspace(extent["x0"], extent["x1"], res)
        ys = np.linspace(extent["y0"], extent["y1"], res)
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=grid, coloraxis="coloraxis", zsmooth="best", showlegend=False,
                                 hovertemplate="x=%{x:.2f} y=%{y:.2f}<br>P(1)=%{z:.2f}<extra></extra>"),
                      row=1, col=c)
        fig.add_trace(go.Contour(x=xs, y=ys, z=grid, showscale=False, contours={"start": 0.5, "end": 0.5,
                                 "size": 1, "coloring": "none"}, line={"color": "white", "width": 2},
                                 hoverinfo="skip", showlegend=False), row=1, col=c)
        if points is not None and labels is not None and len(points):
            pts, lab = np.asarray(points, dtype=float), np.asarray(labels).ravel()
            for cls, symbol in ((0, "circle"), (1, "x")):
                sel = lab == cls
                fig.add_trace(go.Scatter(x=pts[sel, 0], y=pts[sel, 1], mode="markers", name=f"class {cls}",
                                         legendgroup=f"class {cls}", showlegend=c == 1,
                                         marker={"symbol": symbol, "size": 6, "color": "black" if cls else "white",
                                                 "line": {"width": 1, "color": "black"}}), row=1, col=c)
    fig.update_layout(coloraxis={"colorscale": DIVERGING, "reversescale": True, "cmin": 0, "cmax": 1,
                                 "colorbar": {"title": "P(1)", "len": 0.8}})
    fig.update_xaxes(range=[extent["x0"], extent["x1"]])
    fig.update_yaxes(range=[extent["y0"], extent["y1"]])
    return _layout(fig, 380, title)


def confusion_figure(matrices: Mapping[str, np.ndarray], class_names: Sequence[str] = (), *,
                     title: str = "") -> go.Figure:
    """Row-normalised validation confusion matrices (true class by row), one panel per run, scale [0, 1]."""
    mats = {k: np.asarray(v, dtype=float) for k, v in matrices.items() if v is not None and np.size(v)}
    if not mats:
        return empty_figure("No confusion matrix recorded")
    fig = make_subplots(rows=1, cols=len(mats), subplot_titles=list(mats), horizontal_spacing=0.06)
    for c, m in enumerate(mats.values(), start=1):
        k = m.shape[0]
        names = list(class_names)[:k] if len(class_names) >= k else [str(i) for i in range(k)]
        frac = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        fig.add_trace(go.Heatmap(z=frac, x=names, y=names, coloraxis="coloraxis", text=m.astype(int),
                                 hovertemplate="true %{y} → predicted %{x}<br>%{text} (%{z:.0%})<extra></extra>"),
                      row=1, col=c)
    fig.update_yaxes(autorange="reversed", title_text="true class", col=1)
    fig.update_xaxes(title_text="predicted")
    fig.update_layout(coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 1})
    return _layout(fig, 360, title)


def image_panels_figure(images: Sequence[np.ndarray], captions: Sequence[str], *, symmetric: bool = False,
                        columns: int = MAX_PANEL_COLUMNS, height_per_row: int = 120, title: str = "",
                        empty_note: str = "Nothing to show", pixel_ticks: bool = False,
                        row_labels: Sequence[str] = ()) -> go.Figure:
    """Small grayscale images (H, W) in a grid, one shared colour range over all of them; with
    `pixel_ticks` the first panel of each row numbers its pixel rows and columns; `row_labels` name
    each row (a run, a layer) on a line of their own above its panels' captions."""
    images = [np.asarray(a, dtype=float) for a in images]
    if not images:
        return empty_figure(empty_note)
    cols = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / cols)
    finite = np.concatenate([a[np.isfinite(a)] for a in images] + [np.zeros(1)])
    lo, hi = float(finite.min()), float(finite.max())
    if symmetric:
        hi = max(abs(lo), abs(hi)) or 1.0
        lo = -hi
    hover = "row %{y}, col %{x}: %{z:.3g}<extra></extra>"
    cells = [{"row": i // cols, "col": i % cols, "title": captions[i] if i < len(captions) else "",
              "traces": [{"type": "heatmap", "z": img, "coloraxis": "coloraxis", "hovertemplate": hover}],
              "xaxis": {"showticklabels": pixel_ticks, "dtick": 1, "tickfont": {"size": 8}},
              "yaxis": {"showticklabels": pixel_ticks and i % cols == 0, "autorange": "reversed", "dtick": 1,
                        "tickfont": {"size": 8}}}
             for i, img in enumerate(images)]
    label_px = 18 if row_labels else 0  # a line above each row for its label
    total = 60 + rows * (height_per_row + label_px)
    vspace = 0.3 / rows + label_px / max(total - 100, 1)  # (plot area: the figure minus its margins)
    fig = grid_figure(rows, cols, cells, vspace=vspace, square=True, layout={"coloraxis": {
        "colorscale": DIVERGING if symmetric else "Gray", "cmin": lo, "cmax": hi, "reversescale": symmetric}})
    if row_labels:
        height = (1 - vspace * (rows - 1)) / rows
        notes = [{"text": f"<b>{label}</b>", "x": 0, "y": 1 - r * (height + vspace), "xref": "paper",
                  "yref": "paper", "xanchor": "left", "yanchor": "bottom", "yshift": 16, "showarrow": False,
                  "font": {"size": 12}} for r, label in enumerate(row_labels[:rows])]
        fig.update_layout(annotations=list(fig.layout.annotations) + notes)
    fig = _layout(fig, total, title)
    if row_labels:
        fig.update_layout(margin={"t": 60 + (30 if title else 0)})
    return fig


def filters_figure(filters_by_run: Mapping[str, np.ndarray], *, title: str = "") -> go.Figure:
    """First-layer filters (F, C, k, k), channel-averaged, rows = runs, one symmetric colour scale."""
    runs = {k: np.asarray(v, dtype=float) for k, v in filters_by_run.items() if v is not None and np.size(v)}
    if not runs:
        return empty_figure("No convolution filters recorded (CNN only)")
    images, captions = [], []
    per_row = min(MAX_PANEL_COLUMNS, max(w.shape[0] for w in runs.values()))
    for label, w in runs.items():
        for f in range(per_row):
            images.append(w[f].mean(axis=0) if f < w.shape[0] else np.full(w.shape[2:], np.nan))
            captions.append(f"filter {f}")
    return image_panels_figure(images, captions, symmetric=True, columns=per_row, title=title,
                               empty_note="No convolution filters recorded", pixel_ticks=True,
                               row_labels=list(runs))


def feature_maps_figure(maps: Mapping[str, np.ndarray], image: int = 0, *, channels: int = MAX_PANEL_COLUMNS,
                        title: str = "") -> go.Figure:
    """Feature maps of probe image `image` for every conv layer (row) and its first channels (columns)."""
    maps = {k: np.asarray(v, dtype=float) for k, v in maps.items() if v is not None and np.ndim(v) == 4}
    if not maps:
        return empty_figure("No feature maps recorded (CNN only)")
    images, captions = [], []
    for layer, m in maps.items():
        img = m[min(image, len(m) - 1)]
        for c in range(channels):
            images.append(img[c] if c < img.shape[0] else np.full(img.shape[1:], np.nan))
            captions.append(f"ch {c}")
    return image_panels_figure(images, captions, columns=channels, title=title, row_labels=list(maps))


# --- recurrent models ----------------------------------------------------------------------------

def recurrent_figure(views_by_run: Mapping[str, Mapping], *, title: str = "",
                     colors: Mapping[str, str] | None = None) -> go.Figure:
    """Per timestep: hidden-state norm, mean gate activations and the gradient reaching the input (log)."""
    runs = {k: v for k, v in views_by_run.items() if v}
    if not runs:
        return empty_figure("No recurrent layer recorded")
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07,
                        subplot_titles=("hidden-state norm ‖h_t‖", "gate activation (mean)",
                                        "gradient reaching input x_t"))
    dashes = ("solid", "dash", "dot", "dashdot")
    for i, (label, v) in enumerate(runs.items()):
        color = (colors or {}).get(label, color_for(i))
        hn = v.get("hidden_norm") or []
        t = list(range(1, len(hn) + 1))
        fig.add_trace(go.Scatter(x=t, y=_finite(hn), name=label, legendgroup=label, mode="lines",
                                 line={"color": color}), row=1, col=1)
        for j, (gate, means) in enumerate((v.get("gates") or {}).items()):
            # each line is named at its right end: the dashes alone do not say which gate is which
            fig.add_trace(go.Scatter(x=list(range(1, len(means) + 1)), y=_finite(means), name=f"{label} · {gate}",
                                     legendgroup=label, showlegend=False, mode="lines+text",
                                     text=[""] * (len(means) - 1) + [gate], textposition="middle right",
                                     textfont={"color": color, "size": 12}, cliponaxis=False,
                                     line={"color": color, "dash": dashes[j % len(dashes)]},
                                     hovertemplate=f"gate {gate}: " + "%{y:.3f}<extra>" + label + "</extra>"),
                          row=1, col=2)
        g = v.get("input_grad") or []
        fig.add_trace(go.Scatter(x=list(range(1, len(g) + 1)), y=_positive(g), name=label, legendgroup=label,
                                 showlegend=False, mode="lines+markers", line={"color": color}),
                      row=1, col=3)
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=3)
    fig.update_xaxes(title_text="timestep")
    return _layout(fig, 340, title)


def confidence_figure(conf_by_run: Mapping[str, Sequence[float]], tokens: Sequence[str], *,
                      what: str = "P(correct answer)", title: str = "",
                      colors: Mapping[str, str] | None = None) -> go.Figure:
    """The model's confidence after each token of one probe sentence, one line per run, axis in words."""
    runs = {k: list(v) for k, v in conf_by_run.items() if v is not None and len(v)}
    if not runs:
        return empty_figure("No per-token confidence recorded (sequence models only)")
    fig = go.Figure()
    for i, (label, ys) in enumerate(runs.items()):
        color = (colors or {}).get(label, color_for(i))
        fig.add_trace(go.Scatter(x=list(range(len(ys))), y=_finite(ys), name=label, mode="lines+markers",
                                 line={"color": color}, text=list(tokens)[:len(ys)],
                                 hovertemplate="after '%{text}': %{y:.2f}<extra>" + label + "</extra>"))
    n = max(len(v) for v in runs.values())
    fig.update_xaxes(**_token_axis(list(tokens)[:n]), title_text="token")
    fig.update_yaxes(range=[0, 1.02], title_text=what)
    return _layout(fig, 340, title)


def gates_figure(gates: Mapping[str, np.ndarray], tokens: Sequence[str], *, title: str = "") -> go.Figure:
    """Per-unit gate activations (T, H) of one probe sentence, one panel per gate, scale [0, 1]."""
    gates = {k: np.asarray(v, dtype=float) for k, v in gates.items() if v is not None and np.size(v)}
    if not gates:
        return empty_figure("No gates recorded (LSTM and GRU only)")
    fig = make_subplots(rows=1, cols=len(gates), subplot_titles=[f"gate {g}" for g in gates],
                        horizontal_spacing=0.03)
    for c, g in enumerate(gates.values(), start=1):
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim == 2 else g[0]
        fig.add_trace(go.Heatmap(z=g2.T, coloraxis="coloraxis",
                                 hovertemplate="unit %{y}, token %{x}: %{z:.2f}<extra></extra>"), row=1, col=c)
        fig.update_xaxes(**_token_axis(list(tokens)[:g2.shape[0]]), row=1, col=c)
    fig.update_yaxes(title_text="hidden unit", col=1)
    fig.update_layout(coloraxis={"colorscale": HEAT, "cmin": -1 if min(float(v.min()) for v in gates.values()) < 0
                                 else 0, "cmax": 1})
    return _layout(fig, 360, title)


# --- attention -----------------------------------------------------------------------------------

def attention_figure(maps_by_row: Mapping[str, np.ndarray], query_tokens: Sequence[str],
                     key_tokens: Sequence[str], *, title: str = "") -> go.Figure:
    """Attention weights (heads, Tq, Tk) per row (a run, or a layer), one column per head; every panel
    shares one colour scale from 0 to the largest weight shown. Axes are the probe's tokens."""
    rows = {k: np.asarray(v, dtype=float) for k, v in maps_by_row.items() if v is not None and np.ndim(v) == 3}
    if not rows:
        return empty_figure("No attention weights recorded (attention models only)")
    cols = max(w.shape[0] for w in rows.values())
    zmax = max(float(np.nanmax(w)) for w in rows.values()) or 1.0
    hover = "query %{y} → key %{x}: %{z:.2f}<extra></extra>"
    cells = []
    for r, (label, w) in enumerate(rows.items()):
        for h in range(w.shape[0]):
            cells.append({"row": r, "col": h, "title": f"{label} · head {h + 1}",
                          "traces": [{"type": "heatmap", "z": w[h], "coloraxis": "coloraxis", "hovertemplate": hover}],
                          "xaxis": _token_axis(list(key_tokens)[:w.shape[2]]),
                          "yaxis": {**_token_axis(list(query_tokens)[:w.shape[1]]), "autorange": "reversed",
                                    "showticklabels": h == 0}})
    fig = grid_figure(len(rows), cols, cells, hspace=0.015, vspace=0.35 / len(rows), layout={
        "coloraxis": {"colorscale": HEAT, "cmin": 0, "cmax": zmax, "colorbar": {"title": {"text": "weight"}}}})
    side = 230 if cols <= 4 else 190
    return _layout(fig, 80 + side * len(rows), title)


def head_stats_figure(stats_by_run: Mapping[str, Mapping], *, title: str = "",
                      colors: Mapping[str, str] | None = None) -> go.Figure:
    """Each head as a point: entropy of its attention (x) against the mean offset it attends to (y)."""
    runs = {k: v for k, v in stats_by_run.items() if v and v.get("entropy")}
    if not runs:
        return empty_figure("No attention statistics recorded")
    fig = go.Figure()
    for i, (label, s) in enumerate(runs.items()):
        color = (colors or {}).get(label, color_for(i))
        xs, ys, text = [], [], []
        for layer, (ent, off) in enumerate(zip(s["entropy"], s["offset"], strict=False)):
            for h, (e, o) in enumerate(zip(ent, off, strict=False)):
                xs.append(e)
                ys.append(o)
                text.append(f"layer {layer + 1}, head {h + 1}")
        fig.add_trace(go.Scatter(x=_finite(xs), y=_finite(ys), text=text, mode="markers", name=label,
                                 marker={"size": 10, "color": color, "opacity": 0.8},
                                 hovertemplate="%{text}<br>entropy %{x:.2f}<br>offset %{y:.2f}<extra>"
                                               + label + "</extra>"))
    fig.update_xaxes(title_text="attention entropy (nats): low = focused")
    fig.update_yaxes(title_text="mean offset attended (keys − query)", zeroline=True)
    return _layout(fig, 340, title)
