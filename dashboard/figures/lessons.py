"""A lesson's or an ablation's verdict plot: per-seed values of both arms and the paired differences."""

from __future__ import annotations

import math
from collections.abc import Mapping

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import color_for, empty_figure

VERDICT_COLORS = {"supported": "#198754", "better": "#198754", "contradicted": "#dc3545", "worse": "#dc3545",
                  "inconclusive": "#6c757d"}


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float) and math.isfinite(v)


def verdict_figure(a: Mapping, b: Mapping, labels: tuple[str, str], metric: str, *, effect: float | None = None,
                   ci: tuple[float | None, float | None] = (None, None), verdict: str = "inconclusive",
                   height: int = 300) -> go.Figure:
    """Left: each seed's value in both arms, a line joining a seed's pair. Right: each seed's difference
    (second arm minus first), the mean and its 95% interval, and zero."""
    a = {int(k): v for k, v in a.items() if _finite(v)}
    b = {int(k): v for k, v in b.items() if _finite(v)}
    if not a and not b:
        return empty_figure("No finished runs yet", height=height)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45],
                        subplot_titles=(f"{metric} per seed", f"{labels[1]} minus {labels[0]}"))
    for seed in sorted(set(a) & set(b)):
        fig.add_trace(go.Scatter(x=[labels[0], labels[1]], y=[a[seed], b[seed]], mode="lines",
                                 line={"color": "#bbb", "width": 1}, hoverinfo="skip", showlegend=False), 1, 1)
    for i, (label, values) in enumerate(((labels[0], a), (labels[1], b))):
        fig.add_trace(go.Scatter(x=[label] * len(values), y=list(values.values()), mode="markers",
                                 marker={"size": 9, "color": color_for(i)}, name=label,
                                 text=[f"seed {s}" for s in values], hovertemplate="%{text}: %{y:.4g}<extra></extra>"),
                      1, 1)
    seeds = sorted(set(a) & set(b))
    diffs = [b[s] - a[s] for s in seeds]
    color = VERDICT_COLORS.get(verdict, "#6c757d")
    if diffs:
        fig.add_trace(go.Scatter(x=[f"seed {s}" for s in seeds], y=diffs, mode="markers", name="paired difference",
                                 marker={"size": 9, "color": color_for(2)}, showlegend=False,
                                 hovertemplate="%{x}: %{y:.4g}<extra></extra>"), 1, 2)
    if _finite(effect):
        lo, hi = ci
        err = {} if not (_finite(lo) and _finite(hi)) else {
            "error_y": {"type": "data", "symmetric": False, "array": [hi - effect], "arrayminus": [effect - lo],
                        "color": color, "thickness": 2, "width": 10}}
        fig.add_trace(go.Scatter(x=["mean (95% CI)"], y=[effect], mode="markers", name="mean difference",
                                 marker={"size": 12, "color": color, "symbol": "diamond"}, showlegend=False,
                                 hovertemplate="mean %{y:.4g}<extra></extra>", **err), 1, 2)
    fig.add_hline(y=0, line={"color": "#444", "dash": "dot", "width": 1}, row=1, col=2)
    fig.update_layout(height=height, template="plotly_white", margin={"l": 45, "r": 10, "t": 40, "b": 40},
                      legend={"orientation": "h", "y": -0.2}, font={"size": 11})
    return fig


EVENT_STYLE = {"divergence": ("#dc3545", "✖"), "plateau": ("#fd7e14", "▬"), "overfitting": ("#6f42c1", "▲")}


def add_event_markers(fig: go.Figure, events, *, subplots: bool = False) -> go.Figure:
    """Mark each event ({"epoch", "kind", "message"}) with a dotted vertical line; hovering its label shows
    the one-line explanation. `subplots`: the figure has several (mark each)."""
    events = sorted(events or [], key=lambda ev: ev["epoch"])
    last_epoch = max([max(t.x) for t in fig.data if t.x is not None and len(t.x)] + [ev["epoch"] for ev in events],
                     default=1)
    for ev, line in zip(events, _label_lines([ev["epoch"] for ev in events], last_epoch)):
        color, symbol = EVENT_STYLE.get(ev["kind"], ("#666", "•"))
        kw = {"row": "all", "col": "all"} if subplots else {}
        fig.add_vline(x=ev["epoch"], line={"color": color, "dash": "dot", "width": 1},
                      annotation_text=f"{symbol} {ev['kind']}", annotation_hovertext=ev["message"],
                      annotation_font={"color": color, "size": 10}, annotation_position="top left",
                      annotation_yshift=-13 * line, **kw)
    return fig


def _label_lines(epochs: list[int], last_epoch: float, share: float = 0.15) -> list[int]:
    """The text line (0 at the top) of each event's label, for epochs in ascending order on an axis up to
    `last_epoch`: a label goes one line lower when the last label on a line sits closer than `share` of
    the axis (it would overlap it)."""
    gap = share * max(last_epoch, 1)
    last: list[float] = []  # the epoch of the last label on each line
    lines = []
    for epoch in epochs:
        line = next((i for i, at in enumerate(last) if epoch - at >= gap), len(last))
        last[line:line + 1] = [epoch]
        lines.append(line)
    return lines
