"""The Run page's Resume button and "Fork from here" (callbacks/resume_fork.py drives them)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from .. import ids


def resume_fork_panel():
    """Resume (shown for a stopped run) and "Fork from here": the epoch (click the curves), then a link to
    the launch form in fork mode, where the knobs are changed."""
    return html.Div([
        html.Div(id=ids.RUN_LINEAGE, className="small text-muted mb-1"),
        html.Div(className="d-flex flex-wrap align-items-center gap-2", children=[
            dbc.Button("Resume", id=ids.RUN_RESUME, color="outline-primary", size="sm", style={"display": "none"}),
            dbc.Checkbox(id=ids.RUN_RESUME_FORCE, value=False, style={"display": "none"}, className="small"),
            dbc.InputGroup([
                dbc.InputGroupText("fork at epoch"),
                dbc.Input(id=ids.RUN_FORK_EPOCH, type="number", min=1, step=1,
                          placeholder="click a point on the curves"),
                dbc.Button("Fork from here…", id=ids.RUN_FORK, color="outline-secondary", disabled=True),
            ], size="sm", style={"maxWidth": "420px"}),
        ]),
        html.Div(id=ids.RUN_LINEAGE_MESSAGE, className="mt-1"),
    ], className="mb-2")
