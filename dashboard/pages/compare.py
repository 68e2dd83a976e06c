"""Compare page: overlaid or grouped curves, hyperparameter views and a config diff.

Everything on the page lives in the URL (?runs=1,2,3&metric=accuracy&group=optimizer...&inside=heads
&epoch=8&example=3&layer=0), so a comparison, inside views included, can be bookmarked.
"""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..components.inside import compare_section
from ..figures.common import empty_figure
from ..figures.curves import COMPARE_HEIGHT
from ..figures.hparams import HEIGHT as HPARAMS_HEIGHT
from . import url_run_id

PATH = "/compare"
TITLE = "Compare"


# The Runs dropdown offers the selected runs and the most recent ones; typing searches the whole store
# (callbacks/compare.py). Dash's dropdown indexes every option's label for search as it mounts, which
# costs the browser about a millisecond per option.
RECENT_RUN_OPTIONS = 50


def run_option(r) -> dict:
    """A Runs dropdown option: '#12 name mlp/digits adam [completed]'."""
    return {"label": f"#{r.id} {r.name or ''} {r.model}/{r.dataset} {r.params.get('optimizer', '')} [{r.status}]",
            "value": r.id}


def _options(selected: list[int]):
    """Dropdown options built with the page (Dash 4's Dropdown drops values missing from its options):
    the selected runs plus the most recent ones, every hyperparameter, every metric key."""
    from flask import current_app

    from storage import reads
    from storage.db import open_db

    engine = open_db(current_app.config["NNLAB"].db_url)
    recent = reads.list_runs(engine, limit=RECENT_RUN_OPTIONS, reap=False)
    chosen = reads.list_runs(engine, run_ids=selected, limit=len(selected), reap=False) if selected else []
    seen, runs = set(), []
    for r in chosen + recent:
        if r.id not in seen:
            seen.add(r.id)
            runs.append(r)
    params = [{"label": p, "value": p} for p in reads.list_param_names(engine)]
    metrics = [{"label": k, "value": k} for k in reads.list_metric_keys(engine)]
    return [run_option(r) for r in runs], params, metrics


def _num(value, default):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def layout(runs: str = "", metric: str = "accuracy", splits: str = "train,val", smooth: str = "0",
           x: str = "epoch", log: str = "0", group: str = "", param: str = "", final: str = "val_accuracy",
           **_query):
    selected = [i for i in map(url_run_id, runs.split(",")) if i is not None]
    run_opts, params, metrics = _options(selected)
    graph = {"config": {"displaylogo": False}}
    waiting = f"Drawing the curves of {len(selected)} runs…" if selected else "Select runs to compare"
    return dbc.Container([
        html.H4("Compare runs"),
        dbc.Row([
            dbc.Col([dbc.Label("Runs", className="small mb-0"),
                     dcc.Dropdown(id=ids.CMP_RUNS, multi=True, value=selected, options=run_opts,
                                  placeholder="pick runs (or select them on the Runs page)")], md=6),
            dbc.Col([dbc.Label("Metric", className="small mb-0"),
                     dcc.Dropdown(id=ids.CMP_METRIC, value=metric, clearable=False,
                                  options=[{"label": m, "value": m} for m in ("accuracy", "loss")])], md=2),
            dbc.Col([dbc.Label("Splits", className="small mb-0"),
                     dcc.Checklist(id=ids.CMP_SPLITS, value=[s for s in splits.split(",") if s],
                                   options=[{"label": " train", "value": "train"},
                                            {"label": " validation", "value": "val"}], inline=True,
                                   inputStyle={"marginLeft": "8px"})], md=2),
            dbc.Col([dbc.Label("Group by (mean ± std)", className="small mb-0"),
                     dcc.Dropdown(id=ids.CMP_GROUP, value=group or None, options=params, placeholder="none")], md=2),
        ], className="g-2 mb-2"),
        dbc.Row([
            dbc.Col([dbc.Label("Smoothing", className="small mb-0"),
                     dcc.Slider(id=ids.CMP_SMOOTH, min=0, max=0.95, step=0.05, value=_num(smooth, 0.0),
                                marks={0: "0", 0.5: "0.5", 0.9: "0.9"})], md=4),
            dbc.Col([dbc.Label("x axis", className="small mb-0"),
                     dbc.RadioItems(id=ids.CMP_X, value=x if x in ("epoch", "time") else "epoch", inline=True,
                                    options=[{"label": "epoch", "value": "epoch"},
                                             {"label": "wall time", "value": "time"}])], md=3),
            dbc.Col([dbc.Label("y axis", className="small mb-0"),
                     dbc.Switch(id=ids.CMP_LOG, label="log scale", value=log == "1")], md=2),
        ], className="g-2 mb-2"),
        dcc.Loading(dcc.Graph(id=ids.CMP_CURVES, figure=empty_figure(waiting, height=COMPARE_HEIGHT),
                              **graph)),
        dbc.Row([
            dbc.Col([dbc.Label("Final metric", className="small mb-0"),
                     dcc.Dropdown(id=ids.CMP_FINAL, value=final, clearable=False, options=metrics)], md=3),
            dbc.Col([dbc.Label("Scatter: hyperparameter", className="small mb-0"),
                     dcc.Dropdown(id=ids.CMP_SCATTER_PARAM, value=param or None, options=params)], md=3),
        ], className="g-2 mt-3"),
        dbc.Row([
            dbc.Col(dcc.Loading(dcc.Graph(id=ids.CMP_PARCOORDS, **graph,
                                          figure=empty_figure("Parallel coordinates", height=HPARAMS_HEIGHT))), md=7),
            dbc.Col(dcc.Loading(dcc.Graph(id=ids.CMP_SCATTER, **graph,
                                          figure=empty_figure("Scatter", height=HPARAMS_HEIGHT))), md=5),
        ]),
        html.H5("What differs", className="mt-3"),
        dcc.Loading(html.Div(id=ids.CMP_DIFF)),
        dcc.Store(id=ids.CMP_BUILT),
        dcc.Store(id=ids.CMP_GRAPH_READY),
        compare_section(_query.get("inside", ""), _query.get("example", ""), _query.get("epoch", ""),
                        _query.get("layer", "")),
        dcc.Store(id="compare-query"),
    ], fluid=True)
