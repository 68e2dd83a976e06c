"""Shared figure helpers: the empty-figure note, smoothing, run labels and the colour cycle."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

COLORS = qualitative.Plotly + qualitative.D3 + qualitative.Set2


def color_for(i: int) -> str:
    return COLORS[i % len(COLORS)]


def run_colors(run_ids: Sequence[Any]) -> dict[Any, str]:
    """One colour per run for every figure of a page: the runs in ascending id order take the cycle's
    colours in turn, so the same selection colours a run the same wherever it is drawn."""
    return {r: color_for(i) for i, r in enumerate(sorted(set(run_ids), key=_id_order))}


def _id_order(run_id: Any):
    return (0, int(run_id), "") if str(run_id).lstrip("#").isdigit() else (1, 0, str(run_id))


_TEMPLATES: dict[str, dict] = {}


def fast_figure(traces: Sequence[dict], layout: dict, template: str = "plotly_white") -> go.Figure:
    """A figure from plain trace and layout dicts, skipping plotly's per-value validation (and its deep
    copy of the template on every update_layout): for builders with many traces or points."""
    if template not in _TEMPLATES:
        import plotly.io as pio

        _TEMPLATES[template] = pio.templates[template].to_plotly_json()
    return go.Figure(data=list(traces), layout={**layout, "template": _TEMPLATES[template]}, _validate=False)


def empty_figure(note: str, *, height: int = 320) -> go.Figure:
    """A blank figure that says why it is blank (built like fast_figure: pages draw several per visit)."""
    return fast_figure([], {"annotations": [{"text": note, "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper",
                                             "showarrow": False, "font": {"size": 14, "color": "#666"}}],
                            "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": height,
                            "margin": {"l": 30, "r": 10, "t": 30, "b": 30}})


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard-style exponential moving average with debiasing; NaN passes through."""
    if weight <= 0:
        return list(values)
    out, last, n = [], 0.0, 0
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight**n))
    return out


def differing_keys(params_by_run: Mapping[Any, Mapping[str, Any]]) -> list[str]:
    """Hyperparameter names whose values differ among the runs that use them (a run without the key
    does not use that setting: adam's missing momentum does not make momentum differ)."""
    runs = list(params_by_run.values())
    if len(runs) < 2:
        return []
    keys = sorted(set().union(*[set(p) for p in runs]))
    return [k for k in keys if len({repr(p[k]) for p in runs if k in p}) > 1]


def run_label(run_id: Any, params: Mapping[str, Any], keys: Sequence[str], name: str = "") -> str:
    """'#12 optimizer=adam dropout=0.2': the id (or name) plus the differing settings this run uses."""
    head = f"#{run_id}" + (f" {name}" if name else "")
    parts = [f"{k}={params[k]}" for k in keys if k in params][:4]
    return " ".join([head] + parts)
