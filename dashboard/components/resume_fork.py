"""The Run page's Resume button and "Fork from here" form (callbacks/resume_fork.py drives them)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from .. import ids


def resume_fork_panel():
    """Resume (shown for a stopped run) and a fork form: epoch (click the curves), knobs to change."""
    return html.Div([
        html.Div(id=ids.RUN_LINEAGE, className="small text-muted mb-1"),
        dbc.Button("Resume", id=ids.RUN_RESUME, color="outline-primary", size="sm", className="me-2",
                   style={"display": "none"}),
        html.Details([
            html.Summary("Fork from here", className="small"),
            html.Div([
                dbc.InputGroup([dbc.InputGroupText("at epoch"),
                                dbc.Input(id=ids.RUN_FORK_EPOCH, type="number", min=1, step=1,
                                          placeholder="click a point on the curves")],
                               size="sm", className="mb-1", style={"maxWidth": "360px"}),
                dbc.Textarea(id=ids.RUN_FORK_SET, rows=3, className="mb-1 small", style={"maxWidth": "360px"},
                             placeholder="knobs to change, one NAME=VALUE a line:\nlr=0.0001\ndropout=0.2"),
                dbc.Button("Fork", id=ids.RUN_FORK, color="outline-secondary", size="sm"),
            ], className="mt-1"),
        ], className="d-inline-block align-top"),
        html.Div(id=ids.RUN_LINEAGE_MESSAGE, className="mt-1"),
    ], className="mb-2")
